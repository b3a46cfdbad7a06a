{#-
    The incremental strategy `replace` (doc `incremental_replace`): a run replaces, in one
    transaction, the rows its processed days own and the rows of every key it recomputed.

      1. delete the target's rows matching `replace_where` (a predicate over the target: for a
         day-partitioned model `_ds` in the processed days, for a keyed model the rows whose
         lineage overlaps them), when configured;
      2. delete the target's rows whose `unique_key` is among the new rows, when configured
         (with `replace_where` too, only the keys of new rows outside it: the rows inside it
         were deleted in step 1; `replace_where` must then name the model's own columns only);
      3. insert the new rows (those matching `replace_insert_where`, when configured: a keyed
         model can recompute a key to nothing, its row deleted and not written again).

    The new rows are computed from the processed days and small, indexed state, so each step
    touches those rows only: the deletes go through the target's indexes on `_ds` (or the
    lineage columns) and on the key. On PostgreSQL the key delete is pinned to index lookups:
    the planner would otherwise hash the new rows and scan the whole target, whose size grows
    with history while the new rows do not.
-#}
{% macro get_incremental_replace_sql(arg_dict) %}
    {{ return(adapter.dispatch('get_incremental_replace_sql')(arg_dict)) }}
{% endmacro %}


{% macro default__get_incremental_replace_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {#- the predicate is written as a template: rendered now, its refs resolve to this run's relations -#}
    {%- set replace_where = render(config.get('replace_where')) if config.get('replace_where') else none -%}
    {%- set keys = replace_unique_key(arg_dict['unique_key']) -%}
    {%- if replace_where %}
    delete from {{ target }}
    where {{ replace_where }};
    {% endif -%}
    {%- if keys %}
    {{ replace_key_lookup_hint() }}
    delete from {{ target }}
    where ({{ keys | join(', ') }}) in (
        select {{ keys | join(', ') }} from {{ source }}
        {%- if replace_where %}
        where not ({{ replace_where }})
        {%- endif %}
    );
    {% endif %}
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }}
    {%- if config.get('replace_insert_where') %}
    where {{ config.get('replace_insert_where') }}
    {%- endif %}
{% endmacro %}


{#- The unique_key config as a list of column names (empty without one). -#}
{% macro replace_unique_key(unique_key) -%}
    {%- if not unique_key -%}
        {{ return([]) }}
    {%- elif unique_key is string -%}
        {{ return([unique_key]) }}
    {%- else -%}
        {{ return(unique_key | list) }}
    {%- endif -%}
{%- endmacro %}


{#- Statement(s) that make the key delete use the target's key index (see the header). -#}
{% macro replace_key_lookup_hint() -%}
    {{ return(adapter.dispatch('replace_key_lookup_hint')()) }}
{%- endmacro %}

{% macro default__replace_key_lookup_hint() -%}
{%- endmacro %}

{% macro postgres__replace_key_lookup_hint() -%}
    set local enable_hashjoin = off;
    set local enable_mergejoin = off;
{%- endmacro %}

{#- Redshift has no such planner settings (and dispatch would otherwise reach postgres__). -#}
{% macro redshift__replace_key_lookup_hint() -%}
{%- endmacro %}
