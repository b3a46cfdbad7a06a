{#-
    dbt's is_incremental(), extended to the project's `day_partitions` materialization and to
    compiling offline:

    - a `day_partitions` model runs incrementally when its table exists, no full refresh was
      asked for and the run processes some days (an all-days run rebuilds every partition);
      on warehouses without partitions it is an `incremental` model and dbt's answer applies;
    - when compiling offline (`--vars '{offline_compile: ...}'`, the Redshift check) no
      warehouse is asked whether the table exists and the answer is fixed (true for
      `incremental`, false otherwise), so every model compiles with no cluster.
-#}
{% macro is_incremental() -%}
    {%- set offline = var('offline_compile', none) -%}
    {%- if offline is not none -%}
        {{ return(offline | string | lower in ('incremental', 'true')) }}
    {%- endif -%}
    {%- if model.config.materialized == 'day_partitions' and execute -%}
        {%- if not processes_some_days() or should_full_refresh() -%}
            {{ return(false) }}
        {%- endif -%}
        {%- set relation = load_relation(this) -%}
        {%- if relation is none or relation.type != 'table' -%}
            {{ return(false) }}
        {%- endif -%}
        {{ return(target.type != 'postgres' or is_day_partitioned(relation)) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{%- endmacro %}
