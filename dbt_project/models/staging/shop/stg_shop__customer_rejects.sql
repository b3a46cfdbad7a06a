-- Raw customer rows excluded from staging, with the reason. With the staged rows and the
-- superseded versions they account for every raw row (test assert_shop_reconciles_with_raw).
with

customers as (

    select * from {{ ref('base_shop__customers') }}

),

final as (

    select
        customer_id,
        first_name,
        last_name,
        email,
        phone,
        address,
        created_at,
        updated_at,
        rejection_reason,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from customers
    where rejection_reason is not null

)

select * from final
