-- Raw sale rows excluded from staging, with the reason. With the staged rows and the
-- superseded versions they account for every raw row (test assert_shop_reconciles_with_raw).
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
        rejection_reason,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from sales
    where rejection_reason is not null

)

select * from final
