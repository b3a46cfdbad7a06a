{#-
    Data tests scoped to the rows a run wrote (doc scoped_tests). A test's `where` config cannot
    call project macros (dbt renders it while parsing), so it names a placeholder that this
    override of dbt's `get_where_subquery` replaces at run time:

      where: "__processed_rows__"      the rows of the processed days (`_ds`)
      where: "__processed_lineage__"   the rows built from them (`_first_ds`/`_last_ds`)

    In an all-days run both are `1 = 1`: the test checks every row.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set where = where
            | replace('__processed_rows__', processed_rows())
            | replace('__processed_lineage__', processed_lineage()) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
