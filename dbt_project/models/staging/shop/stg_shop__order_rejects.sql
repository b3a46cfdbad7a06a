-- Raw order rows excluded from staging, with the reason. With the staged rows and the
-- superseded versions they account for every raw row (test assert_shop_reconciles_with_raw).
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
        rejection_reason,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from orders
    where rejection_reason is not null

)

select * from final
