{#-
    Post-hook of every model (dbt_project.yml): after an incremental run, refresh the planner's
    statistics of the table it changed. A run adds the newest day, a value the statistics do not
    know yet; estimating its rows as a handful makes the planner choose nested loops that
    re-read the day per row (seen: 20,000 rows read 380 million times). ANALYZE samples a fixed
    number of rows (30,000 at the default target), whatever the table's size. Redshift keeps its
    own statistics (automatic analyze): nothing to do there.
-#}
{% macro analyze_after_build() -%}
    {{ return(adapter.dispatch('analyze_after_build')()) }}
{%- endmacro %}

{% macro default__analyze_after_build() -%}
    {%- if config.get('materialized') == 'incremental' -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}

{% macro redshift__analyze_after_build() -%}
{%- endmacro %}
