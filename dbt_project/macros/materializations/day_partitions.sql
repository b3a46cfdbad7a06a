{#-
    Incremental strategy `day_partitions` (doc `day_partitions`): a model whose rows each belong
    to one delivery day (`partition_by_day`, default `_ds`) and whose run replaces whole days.
    The models are dbt `incremental` models (`materialized='incremental', incremental_strategy=
    'day_partitions'`), so dbt's own `is_incremental()` tells their SQL whether it computes the
    processed days only.

    PostgreSQL: the table is partitioned by list on the day, one partition per day. A run that
    processes some days builds each of their partitions as a new table, in the run's
    transaction, and swaps it in for the old one (detach, drop, attach): the raw loader's own
    mechanism. A new table created in the transaction is written without WAL on the local
    server (`wal_level=minimal`), with its indexes in place before its rows, so a day costs the
    same on the thirtieth day as on the first, whatever the history: nothing is inserted into,
    or deleted from, a large table or a large index, and nothing is read back to index it. A query on `_ds` reads its
    partitions only. An all-days run, a first build or `--full-refresh` builds every partition
    (a table not yet partitioned by day is rebuilt partitioned, its other days kept).
    Because building a partition is not a statement dbt's incremental materialization could
    run after its own temporary table, the project's `incremental` materialization for
    PostgreSQL hands these models to `day_partitions_materialization()` and every other model
    to dbt's own.

    `unique_across_days` (optional: `{'columns': [...], 'where': '...'}`): a key that is unique
    over every day, not only within its partition. Its values and their day are kept in a table
    of their own, `<model>__keys`, with a unique index on the key, written in the same
    transaction as the partitions: a lookup of a key among all days (`day_partitions_keys`)
    is then one index probe, however many days there are (doc `incremental_staging`). The
    table is derived data and unlogged (a day's keys are written without WAL, about 4 times
    faster); PostgreSQL empties such a table after a crash, and the next run notices and builds
    it again from every day.

    Other warehouses (Redshift): dbt's `incremental` materialization, the strategy being the
    model's `replace` (delete the processed days, insert them again), sorted by `_ds`.
-#}
{% materialization incremental, adapter='postgres' -%}
    {#- dispatch reaches a postgres materialization on Redshift too: dbt's own there -#}
    {%- if target.type == 'postgres' and config.get('incremental_strategy') == 'day_partitions' -%}
        {{ return(day_partitions_materialization()) }}
    {%- endif -%}
    {{ return(materialization_incremental_default()) }}
{%- endmaterialization %}


{#- Redshift (and any warehouse without the partitions above): the `replace` strategy. -#}
{% macro get_incremental_day_partitions_sql(arg_dict) %}
    {{ return(get_incremental_replace_sql(arg_dict)) }}
{% endmacro %}


{% macro day_partitions_materialization() -%}
    {%- set column = config.get('partition_by_day', '_ds') -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set first_day, last_day = processing_days() -%}
    {%- set rebuild = should_full_refresh() or existing_relation is none or first_day is none
        or not is_day_partitioned(existing_relation) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    -- `BEGIN` happens here:
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% if rebuild %}
        {%- set intermediate = make_intermediate_relation(target_relation) -%}
        {%- set backup = make_backup_relation(target_relation, 'table') -%}
        {{ drop_relation_if_exists(load_cached_relation(intermediate)) }}
        {{ drop_relation_if_exists(load_cached_relation(backup)) }}
        {%- set staged = make_temp_relation(target_relation) -%}
        {% do run_query(get_create_table_as_sql(True, staged, sql)) %}
        {%- if is_incremental() and first_day is not none -%}
            {#- a table not partitioned by day yet, and the model computed the processed days
                only: the other days are its rows -#}
            {% do run_query('insert into ' ~ staged ~ ' (' ~ day_partition_columns(staged) ~ ') select '
                ~ day_partition_columns(staged) ~ ' from ' ~ existing_relation ~ ' where not ' ~ in_processing_days(column)) %}
        {%- endif -%}
        {%- set days = run_query('select distinct ' ~ column ~ ' from ' ~ staged ~ ' order by 1').columns[0].values() -%}
        {% call statement('main') -%}
            {{ day_partitioned_parent_sql(intermediate, staged, column) }};
            {%- for day in days %}
            create table {{ day_partition(intermediate, target_relation, day, '__new') }}
                partition of {{ intermediate }} for values in ('{{ day }}');
            {%- endfor %}
            {{ day_partition_indexes_sql(intermediate) }}
            insert into {{ intermediate }} ({{ day_partition_columns(staged) }})
            select {{ day_partition_columns(staged) }} from {{ staged }}
        {%- endcall %}
        {% if existing_relation is not none %}
            {{ adapter.rename_relation(existing_relation, backup) }}
            {#- through the adapter, so that its cache forgets the views this drop takes along -#}
            {% do adapter.drop_relation(backup) %}
        {% endif %}
        {{ adapter.rename_relation(intermediate, target_relation) }}
        {% for day in days %}
            {% do run_query('alter table ' ~ day_partition(intermediate, target_relation, day, '__new')
                ~ ' rename to ' ~ day_partition(target_relation, target_relation, day).identifier) %}
            {% do run_query('analyze ' ~ day_partition(target_relation, target_relation, day)) %}
        {% endfor %}
        {{ rebuild_day_partitions_keys(target_relation) }}
    {% else %}
        {%- set days = calendar_days(first_day, last_day) -%}
        {%- set keys = replace_unique_key(config.get('unique_key')) -%}
        {#- a model with a unique_key may also rewrite rows of later days (days re-processed
            out of order): those are merged by key into their partitions -#}
        {%- set merges_later_days = keys and has_day_partitions_after(target_relation, last_day) -%}
        {#- the new rows first go to a temporary table: creating a table from a query may run in
            parallel, inserting into one may not, and the rows are then split by day -#}
        {%- set staged = make_temp_relation(target_relation) -%}
        {% do run_query(get_create_table_as_sql(True, staged, sql)) %}
        {%- set columns = day_partition_columns(target_relation) -%}
        {% call statement('main') -%}
            {%- for day in days %}
            {%- set fresh = day_partition(target_relation, target_relation, day, '__new') %}
            {%- set current = day_partition(target_relation, target_relation, day) %}
            drop table if exists {{ fresh }};
            create table {{ fresh }} (like {{ target_relation }} including defaults including constraints);
            -- implies the partition's bounds (not null included), so attaching it reads no row
            alter table {{ fresh }} add constraint {{ fresh.identifier }}_day
                check ({{ column }} is not null and {{ column }} = '{{ day }}');
            {{ day_partition_indexes_sql(fresh) }}
            insert into {{ fresh }} ({{ columns }})
            select {{ columns }} from {{ staged }} where {{ column }} = '{{ day }}';
            {{ detach_day_partition(target_relation, current, day) }}
            alter table {{ target_relation }} attach partition {{ fresh }} for values in ('{{ day }}');
            alter table {{ fresh }} rename to {{ current.identifier }};
            analyze {{ current }};
            {%- endfor %}
            {%- if merges_later_days %}
            {{ replace_key_lookup_hint() }}
            delete from {{ target_relation }}
            where ({{ keys | join(', ') }}) in (
                select {{ keys | join(', ') }} from {{ staged }} where not {{ in_processing_days(column) }}
            );
            insert into {{ target_relation }} ({{ columns }})
            select {{ columns }} from {{ staged }} where not {{ in_processing_days(column) }};
            {%- else %}
            -- every new row must belong to a processed day
            do $$ begin
                if exists (select 1 from {{ staged }} where not {{ in_processing_days(column) }}) then
                    raise exception '{{ this }}: the model wrote rows outside the days processed ({{ first_day }}..{{ last_day }})';
                end if;
            end $$;
            {%- endif %}
            {{ replace_day_partitions_keys_sql(target_relation, staged) }}
        {%- endcall %}
    {% endif %}

    {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=rebuild) %}
    {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
    {% do persist_docs(target_relation, model) %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    -- `COMMIT` happens here
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{%- endmacro %}


{#-
    The indexes of a day-partitioned table (`indexes`: dbt's config; `partition_indexes`: the
    same keys plus `where`, for partial indexes), created on `relation` before its rows are
    written: on the parent (where they apply to every partition) when it is built, on a day's
    new partition before its rows, so that attaching it finds them in place. Each partition's
    indexes are then written as its rows are inserted, a day's worth at a time, without reading
    the day back to build them.
-#}
{% macro day_partition_indexes_sql(relation) -%}
    {%- for index in config.get('indexes', []) + config.get('partition_indexes', []) %}
    create {{ 'unique ' if index.get('unique') }}index on {{ relation }} ({{ index['columns'] | join(', ') }})
        {%- if index.get('where') %} where {{ index['where'] }}{% endif %};
    {%- endfor %}
{%- endmacro %}


{#- Is `relation` a table partitioned by list (a parent of day partitions)? -#}
{% macro is_day_partitioned(relation) -%}
    {%- set found = run_query(
        "select 1 from pg_partitioned_table where partrelid = to_regclass('"
        ~ relation.include(database=false) ~ "')"
    ) -%}
    {{ return(found.rows | length > 0) }}
{%- endmacro %}


{#- The relation of `day`'s partition of `parent`, named after `named_after` (+ suffix). -#}
{% macro day_partition(parent, named_after, day, suffix='') -%}
    {{ return(parent.incorporate(path={
        'identifier': named_after.identifier ~ '__' ~ (day | string | replace('-', '')) ~ suffix
    })) }}
{%- endmacro %}


{#- The parent table: the contract's columns and constraints when it is enforced, else the
    columns of the staged rows; partitioned by list on `column`. -#}
{% macro day_partitioned_parent_sql(relation, staged, column) -%}
    {%- set contract_config = config.get('contract') -%}
    {%- if contract_config.enforced -%}
        {{ get_assert_columns_equivalent(sql) }}
        create table {{ relation }} {{ get_table_columns_and_constraints() }}
    {%- else -%}
        create table {{ relation }} (like {{ staged }})
    {%- endif %}
    partition by list ({{ column }})
{%- endmacro %}


{#- The quoted column names of `relation`, in order, as a select / insert list. -#}
{% macro day_partition_columns(relation) -%}
    {{ return(get_quoted_csv(adapter.get_columns_in_relation(relation) | map(attribute='name'))) }}
{%- endmacro %}


{#- Has the day-partitioned `relation` a partition for a day after `last_day`? -#}
{% macro has_day_partitions_after(relation, last_day) -%}
    {%- set found = run_query(
        "select 1 from " ~ relation ~ " where " ~ config.get('partition_by_day', '_ds')
        ~ " > cast('" ~ last_day ~ "' as date) limit 1"
    ) -%}
    {{ return(found.rows | length > 0) }}
{%- endmacro %}


{#- Statements that detach and drop the partition of `day` when there is one. -#}
{% macro detach_day_partition(parent, partition, day) -%}
    {%- set found = run_query(
        "select 1 from pg_inherits where inhparent = to_regclass('" ~ parent.include(database=false)
        ~ "') and inhrelid = to_regclass('" ~ partition.include(database=false) ~ "')"
    ) -%}
    {%- if found.rows | length > 0 -%}
        alter table {{ parent }} detach partition {{ partition }};
        drop table {{ partition }};
    {%- endif -%}
{%- endmacro %}


{#- Every day from `first_day` to `last_day` (YYYY-MM-DD strings), inclusive. -#}
{% macro calendar_days(first_day, last_day) -%}
    {%- set start = modules.datetime.date.fromisoformat(first_day) -%}
    {%- set count = (modules.datetime.date.fromisoformat(last_day) - start).days + 1 -%}
    {%- set days = [] -%}
    {%- for offset in range(count) -%}
        {%- do days.append((start + modules.datetime.timedelta(days=offset)).isoformat()) -%}
    {%- endfor -%}
    {{ return(days) }}
{%- endmacro %}


{#- The table of a day-partitioned model's `unique_across_days` key, when it can be trusted:
    None when the model has no such key, when the table was not built yet, or when it is empty
    while the model holds rows (the table is unlogged: PostgreSQL empties it after a crash, and
    the run's materialization then builds it again from every day). -#}
{% macro day_partitions_keys(relation) -%}
    {%- set unique = config.get('unique_across_days') -%}
    {%- if not unique or not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set keys = adapter.get_relation(relation.database, relation.schema, relation.identifier ~ '__keys') -%}
    {%- if keys is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set emptied = run_query(
        'select not exists (select 1 from ' ~ keys ~ ') and exists (select 1 from ' ~ relation
        ~ (' where ' ~ unique['where'] if unique.get('where') else '') ~ ')'
    ).columns[0].values()[0] -%}
    {{ return(none if emptied else keys) }}
{%- endmacro %}


{% macro day_partitions_keys_relation(relation) -%}
    {{ return(relation.incorporate(path={'identifier': relation.identifier ~ '__keys'}, type='table')) }}
{%- endmacro %}


{#- Every day's keys, from the whole table (a first build, a full refresh, an all-days run). -#}
{% macro rebuild_day_partitions_keys(target_relation) -%}
    {%- if config.get('unique_across_days') -%}
        {% call statement('day_partitions_keys') -%}
            {{ create_day_partitions_keys_sql(target_relation) }}
        {%- endcall %}
    {%- endif -%}
{%- endmacro %}


{% macro create_day_partitions_keys_sql(target_relation) -%}
    {%- set unique = config.get('unique_across_days') -%}
    {%- set keys = day_partitions_keys_relation(target_relation) -%}
    {%- set column = config.get('partition_by_day', '_ds') %}
    drop table if exists {{ keys }};
    create unlogged table {{ keys }} as
    select {{ unique['columns'] | join(', ') }}, {{ column }}
    from {{ target_relation }}
    {%- if unique.get('where') %} where {{ unique['where'] }}{% endif %};
    create unique index on {{ keys }} ({{ unique['columns'] | join(', ') }});
    create index on {{ keys }} ({{ column }});
    analyze {{ keys }};
{%- endmacro %}


{#- The processed days' keys replace theirs (the table is built from the whole model, after
    the new partitions, the first time it is missing). -#}
{% macro replace_day_partitions_keys_sql(target_relation, staged) -%}
    {%- set unique = config.get('unique_across_days') -%}
    {%- if unique -%}
        {%- set column = config.get('partition_by_day', '_ds') -%}
        {%- if day_partitions_keys(target_relation) is none -%}
            {{ create_day_partitions_keys_sql(target_relation) }}
        {%- else -%}
            {%- set keys = day_partitions_keys_relation(target_relation) %}
            delete from {{ keys }} where {{ in_processing_days(column) }};
            insert into {{ keys }} ({{ unique['columns'] | join(', ') }}, {{ column }})
            select {{ unique['columns'] | join(', ') }}, {{ column }}
            from {{ staged }}
            where {{ in_processing_days(column) }}
            {%- if unique.get('where') %} and {{ unique['where'] }}{% endif %}
            -- in key order: each index page is visited once, not once per key
            order by {{ unique['columns'] | join(', ') }};
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
