-- Raw product rows excluded from staging, with the reason. With the staged rows and the
-- superseded versions they account for every raw row (test assert_shop_reconciles_with_raw).
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
        rejection_reason,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from products
    where rejection_reason is not null

)

select * from final
