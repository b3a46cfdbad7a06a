-- One row per product of the catalogue (its latest version).
with

products as (

    select * from {{ ref('stg_shop__products') }}

),

final as (

    select
        product_id,
        sku,
        product_name,
        category,
        cast(price as numeric(10, 2)) as price,
        is_active,
        created_at,
        updated_at

    from products

)

select * from final
