{#-
    The incremental strategy `rebuild`: the model's new rows are its whole new content (a
    compact state computed from its previous content and the processed days' delta, doc
    user_product_running_totals); the run empties the table and writes them, in one
    transaction. PostgreSQL: TRUNCATE gives the table new storage in the transaction, so the
    rows and their index entries are written without WAL on the local server (and readers wait
    for the commit instead of seeing a half state). Redshift's TRUNCATE commits by itself:
    DELETE there.
-#}
{% macro get_incremental_rebuild_sql(arg_dict) %}
    {{ return(adapter.dispatch('get_incremental_rebuild_sql')(arg_dict)) }}
{% endmacro %}

{% macro default__get_incremental_rebuild_sql(arg_dict) %}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    truncate table {{ arg_dict['target_relation'] }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{% endmacro %}

{% macro redshift__get_incremental_rebuild_sql(arg_dict) %}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{% endmacro %}
