{#-
    Re-delivered interactions are resolved against what is already staged (doc
    `incremental_staging`): the clean first delivery of an id among the days processed is a
    duplicate when another day already staged that id.

    `join_staged_elsewhere(rows, staged)` is a join clause that gives, for each row of `rows`
    that is a clean first delivery, the alias `staged_elsewhere` with its `interaction_id`
    when `staged` (the base model itself) holds that id clean on a day outside the run.

    PostgreSQL: a lateral lookup per row, one probe of the unique index of every day's clean
    ids (`<model>__keys`, kept by the `day_partitions` strategy: `unique_across_days`),
    so a row costs the same whatever the number of days staged (while that table is missing,
    before the model's first incremental run, a join with the staged ids of other days).
    Redshift has no lateral joins and no indexes: a join with the staged ids of other days,
    co-located by the distribution key `interaction_id` and pruned by the sort key `_ds`.
-#}
{% macro join_staged_elsewhere(rows, staged) -%}
    {{ return(adapter.dispatch('join_staged_elsewhere')(rows, staged)) }}
{%- endmacro %}

{% macro default__join_staged_elsewhere(rows, staged) -%}
    left join (
        select distinct staged.interaction_id
        from {{ staged }} as staged
        where staged.rejection_reason is null and {{ outside_processing_days('staged._ds') }}
    ) as staged_elsewhere
        on
            {{ rows }}.interaction_id = staged_elsewhere.interaction_id
            and {{ rows }}.invalid_reason is null
            and {{ rows }}.delivery_number = 1
{%- endmacro %}

{% macro postgres__join_staged_elsewhere(rows, staged) -%}
    {%- set keys = day_partitions_keys(staged) %}
    {%- if keys is none %}
    {{ default__join_staged_elsewhere(rows, staged) }}
    {%- else %}
    left join lateral (
        select staged.interaction_id
        from {{ keys }} as staged
        where
            {{ rows }}.invalid_reason is null
            and {{ rows }}.delivery_number = 1
            and staged.interaction_id = {{ rows }}.interaction_id
            and {{ outside_processing_days('staged._ds') }}
        limit 1
    ) as staged_elsewhere on true
    {%- endif %}
{%- endmacro %}

{% macro redshift__join_staged_elsewhere(rows, staged) -%}
    {{ return(default__join_staged_elsewhere(rows, staged)) }}
{%- endmacro %}


{#-
    Per key of `keys` (a relation or CTE with the `key_columns`), the row of `relation` with the
    latest `order_columns` (`_ds` first) before `before_day`: the state a running total continues from (doc
    `user_product_running_totals`).

    PostgreSQL: one lateral, index-ordered probe per key (an index on key_columns + `_ds`), so
    the cost is the number of keys, not the rows the keys have accumulated. Redshift: a window
    over the keys' earlier rows, co-located by the distribution key and read in sort-key order.
-#}
{% macro latest_rows_before(keys, relation, key_columns, before_day, order_columns=['_ds']) -%}
    {{ return(adapter.dispatch('latest_rows_before')(keys, relation, key_columns, before_day, order_columns)) }}
{%- endmacro %}

{% macro default__latest_rows_before(keys, relation, key_columns, before_day, order_columns) -%}
    select *
    from (
        select
            candidate.*,
            row_number() over (
                partition by {% for key in key_columns %}candidate.{{ key }}{{ ', ' if not loop.last }}{% endfor %}
                order by {% for column in order_columns %}candidate.{{ column }} desc{{ ', ' if not loop.last }}{% endfor %}
            ) as recency
        from {{ relation }} as candidate
        inner join {{ keys }} as wanted
            on
                {%- for key in key_columns %}
                candidate.{{ key }} = wanted.{{ key }}{{ ' and' if not loop.last }}
                {%- endfor %}
        where candidate._ds < {{ before_day }}
    ) as ranked
    where recency = 1
{%- endmacro %}

{% macro postgres__latest_rows_before(keys, relation, key_columns, before_day, order_columns) -%}
    select previous.*
    from {{ keys }} as wanted
    inner join lateral (
        select *
        from {{ relation }} as candidate
        where
            {%- for key in key_columns %}
            candidate.{{ key }} = wanted.{{ key }} and
            {%- endfor %}
            candidate._ds < {{ before_day }}
        order by {% for column in order_columns %}candidate.{{ column }} desc{{ ', ' if not loop.last }}{% endfor %}
        limit 1
    ) as previous on true
{%- endmacro %}

{% macro redshift__latest_rows_before(keys, relation, key_columns, before_day, order_columns) -%}
    {{ return(default__latest_rows_before(keys, relation, key_columns, before_day, order_columns)) }}
{%- endmacro %}


{#-
    A CTE `name` of per-pair totals over the delivery days of `pair_days` (a relation or CTE
    with `_ds`, `user_id`, `product_id`, the `counts` and `first_`/`last_interacted_at`): the
    pair's latest day there (`_ds`), the totals over all its days, and `before_*` the totals
    over its days before that latest one (doc user_product_running_totals).
-#}
{% macro pair_totals_from_days(pair_days, counts, name='pair_totals', single_day=false) -%}
{%- if single_day %}
{{ name }} as (

    -- one delivery day: it is every pair's latest, and nothing comes before it
    select
        user_id,
        product_id,
        _ds,
        {%- for count in counts %}
        cast({{ count }} as bigint) as {{ count }},
        cast(0 as bigint) as before_{{ count }},
        {%- endfor %}
        first_interacted_at,
        last_interacted_at,
        cast(null as timestamp) as before_first_interacted_at,
        cast(null as timestamp) as before_last_interacted_at

    from {{ pair_days }}

)
{%- else %}
{{ name }}_latest as (

    select
        user_id,
        product_id,
        max(_ds) as latest_ds

    from {{ pair_days }}
    group by user_id, product_id

),

{{ name }} as (

    select
        days.user_id,
        days.product_id,
        latest.latest_ds as _ds,
        {%- for count in counts %}
        cast(sum(days.{{ count }}) as bigint) as {{ count }},
        cast(sum(case when days._ds < latest.latest_ds then days.{{ count }} else 0 end) as bigint)
            as before_{{ count }},
        {%- endfor %}
        min(days.first_interacted_at) as first_interacted_at,
        max(days.last_interacted_at) as last_interacted_at,
        min(case when days._ds < latest.latest_ds then days.first_interacted_at end)
            as before_first_interacted_at,
        max(case when days._ds < latest.latest_ds then days.last_interacted_at end)
            as before_last_interacted_at

    from {{ pair_days }} as days
    inner join {{ name }}_latest as latest
        on days.user_id = latest.user_id and days.product_id = latest.product_id
    group by days.user_id, days.product_id, latest.latest_ds

)
{%- endif %}
{%- endmacro %}
