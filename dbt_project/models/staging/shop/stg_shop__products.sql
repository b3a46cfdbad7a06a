-- One row per product: the latest valid version of the daily catalogue snapshot.
-- Rules: doc shop_cleaning_rules, shop_versioning_rule.
with

products as (

    select * from {{ ref('base_shop__products') }}

),

final as (

    select
        product_id,
        sku,
        product_name,
        category,
        price,
        is_active,
        created_at,
        updated_at,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from products
    where row_status = 'current'

)

select * from final
