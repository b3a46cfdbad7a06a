{#-
    Reading fields of JSON documents stored as text, without ever failing the query: a
    malformed document (or one that is not an object) gives nulls, which the caller can count.

    PostgreSQL 16: `json_extract_path_text(col::json, ...)` raises on malformed JSON, and on
    well-formed JSON whose text the database cannot hold (an escaped NUL `\u0000`, a lone
    surrogate), which `is json object` lets through. So a document counts as an object only if
    it is one and also parses as jsonb (`pg_input_is_valid`, which never raises). Redshift: `json_extract_path_text(col, key, true)`
    returns null for invalid JSON; `can_json_parse` tells whether a document parses.
-#}

{#- True when `column` holds a well-formed JSON object, false otherwise (null when null). -#}
{% macro is_json_object(column) -%}
    {{ return(adapter.dispatch('is_json_object')(column)) }}
{%- endmacro %}

{% macro postgres__is_json_object(column) -%}
    ({{ column }} is json object and pg_input_is_valid({{ column }}, 'jsonb'))
{%- endmacro %}

{% macro redshift__is_json_object(column) -%}
    (case
        when {{ column }} is null then null
        when can_json_parse({{ column }}) then json_typeof(json_parse({{ column }})) = 'object'
        else false
    end)
{%- endmacro %}


{#- The text of top-level `key` of the JSON object in `column`; null when absent or malformed. -#}
{% macro json_text_field(column, key) -%}
    {{ return(adapter.dispatch('json_text_field')(column, key)) }}
{%- endmacro %}

{% macro postgres__json_text_field(column, key) -%}
    case
        when {{ postgres__is_json_object(column) }}
            then json_extract_path_text(cast({{ column }} as json), '{{ key }}')
    end
{%- endmacro %}

{% macro redshift__json_text_field(column, key) -%}
    json_extract_path_text({{ column }}, '{{ key }}', true)
{%- endmacro %}


{#-
    One select-list entry per key: `nullif(trim(<field>), '') as <prefix><key>`, so a JSON
    object stored as text becomes columns (blank values become nulls).
-#}
{% macro flatten_json_object(column, keys, prefix='') -%}
    {%- for key in keys %}
        nullif(trim({{ json_text_field(column, key) }}), '') as {{ prefix ~ key }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
