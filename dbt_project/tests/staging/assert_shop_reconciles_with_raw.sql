-- Every raw shop row is accounted for, per table and day:
-- raw rows = staged (current) + rejected + superseded versions (doc shop_versioning_rule), where
-- a superseded version is a valid one whose key's current version ranks above it. Checks the
-- days the run processes (every day in an all-days run): doc scoped_tests.
{%- set entities = [
    ('customers', 'customer_id', 'stg_shop__customers'),
    ('products', 'product_id', 'stg_shop__products'),
    ('orders', 'order_id', 'stg_shop__orders'),
    ('sales', 'sale_id', 'stg_shop__sales'),
] %}
with

raw_rows as (
    {%- for entity, _, _ in entities %}
    select '{{ entity }}' as entity, _ds, count(*) as row_count
    from {{ source('shop', entity) }}
    where {{ processed_rows() }}
    group by _ds
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

staged as (
    {%- for entity, _, staged_model in entities %}
    select '{{ entity }}' as entity, _ds, count(*) as row_count
    from {{ ref(staged_model) }}
    where {{ processed_rows() }}
    group by _ds
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

rejected as (
    {%- for entity, _, _ in entities %}
    select '{{ entity }}' as entity, _ds, count(*) as row_count
    from {{ ref('base_shop__' ~ entity) }}
    where {{ processed_rows() }} and rejection_reason is not null
    group by _ds
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

superseded as (
    {%- for entity, key, staged_model in entities %}
    select '{{ entity }}' as entity, versions._ds, count(*) as row_count
    from {{ ref('base_shop__' ~ entity) }} as versions
    inner join {{ ref(staged_model) }} as current_version
        on versions.{{ key }} = current_version.{{ key }}
    where
        {{ processed_rows('versions._ds') }}
        and versions.rejection_reason is null
        and (
            versions.updated_at < current_version.updated_at
            or (versions.updated_at = current_version.updated_at and versions._ds < current_version._ds)
            or (
                versions.updated_at = current_version.updated_at
                and versions._ds = current_version._ds
                and versions._load_id < current_version._load_id
            )
        )
    group by versions._ds
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
