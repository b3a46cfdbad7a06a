-- Every raw shop row is accounted for, per table and day:
-- raw rows = staged (current) + rejected + superseded versions (doc shop_versioning_rule).
{%- set entities = [
    ('customers', 'stg_shop__customers', 'stg_shop__customer_rejects'),
    ('products', 'stg_shop__products', 'stg_shop__product_rejects'),
    ('orders', 'stg_shop__orders', 'stg_shop__order_rejects'),
    ('sales', 'stg_shop__sales', 'stg_shop__sale_rejects'),
] %}
with

raw_rows as (
    {%- for entity, _, _ in entities %}
    select '{{ entity }}' as entity, _ds, count(*) as row_count
    from {{ source('shop', entity) }}
    group by _ds
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

staged as (
    {%- for entity, staged_model, _ in entities %}
    select '{{ entity }}' as entity, _ds, count(*) as row_count
    from {{ ref(staged_model) }}
    group by _ds
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

rejected as (
    {%- for entity, _, rejects_model in entities %}
    select '{{ entity }}' as entity, _ds, count(*) as row_count
    from {{ ref(rejects_model) }}
    group by _ds
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

superseded as (
    {%- for entity, _, _ in entities %}
    select '{{ entity }}' as entity, _ds, count(*) as row_count
    from {{ ref('base_shop__' ~ entity) }}
    where row_status = 'superseded'
    group by _ds
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select
    raw_rows.entity,
    raw_rows._ds,
    raw_rows.row_count as raw_rows,
    coalesce(staged.row_count, 0) as staged_rows,
    coalesce(rejected.row_count, 0) as rejected_rows,
    coalesce(superseded.row_count, 0) as superseded_rows

from raw_rows
left join staged
    on raw_rows.entity = staged.entity and raw_rows._ds = staged._ds
left join rejected
    on raw_rows.entity = rejected.entity and raw_rows._ds = rejected._ds
left join superseded
    on raw_rows.entity = superseded.entity and raw_rows._ds = superseded._ds
where
    raw_rows.row_count
    <> coalesce(staged.row_count, 0) + coalesce(rejected.row_count, 0) + coalesce(superseded.row_count, 0)
