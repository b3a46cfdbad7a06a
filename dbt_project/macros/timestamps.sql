{#- A timestamptz as a UTC timestamp (without time zone): the warehouse's one time convention. -#}
{% macro to_utc_timestamp(column) -%}
    {{ return(adapter.dispatch('to_utc_timestamp')(column)) }}
{%- endmacro %}

{% macro postgres__to_utc_timestamp(column) -%}
    ({{ column }} at time zone 'UTC')
{%- endmacro %}

{% macro redshift__to_utc_timestamp(column) -%}
    convert_timezone('UTC', {{ column }})
{%- endmacro %}

