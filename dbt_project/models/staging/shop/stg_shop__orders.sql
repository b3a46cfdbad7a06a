-- One row per order: the latest valid version, typed and cleaned.
-- Rules: doc shop_cleaning_rules, shop_versioning_rule.
with

orders as (

    select * from {{ ref('base_shop__orders') }}

),

final as (

    select
        order_id,
        customer_id,
        status,
        reported_quantity,
        ordered_at,
        updated_at,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from orders
    where row_status = 'current'

)

select * from final
