-- One row per sale line: the latest valid version, typed and cleaned.
-- Rules: doc shop_cleaning_rules, shop_versioning_rule.
with

sales as (

    select * from {{ ref('base_shop__sales') }}

),

final as (

    select
        sale_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        discount,
        sold_at,
        updated_at,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from sales
    where row_status = 'current'

)

select * from final
