{#-
    dbt's is_incremental(), except when compiling offline (`--vars '{offline_compile: ...}'`):
    then no warehouse is asked whether the model's table exists, and the answer is fixed
    (true for `incremental`, false otherwise), so every model compiles with no cluster.
-#}
{% macro is_incremental() -%}
    {%- set offline = var('offline_compile', none) -%}
    {%- if offline is not none -%}
        {{ return(offline | string | lower in ('incremental', 'true')) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{%- endmacro %}
