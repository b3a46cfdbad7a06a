-- Per product: the interaction funnel (views -> clicks -> carts -> purchases) with its
-- conversion rates, and what it sold (revenue orders only, doc revenue_definition). Built from
-- the compact per-entity state (the per-pair totals and int_product_sales_summarized), never
-- from the interactions or sale lines themselves.
with

products as (

    select * from {{ ref('dim_products') }}

),

pair_interactions as (

    select * from {{ ref('fct_user_product_interactions') }}

),

product_sales as (

    select * from {{ ref('int_product_sales_summarized') }}

),

product_interactions as (

    select
        product_id,
        sum(view_count) as views,
        sum(click_count) as clicks,
        sum(add_to_cart_count) as add_to_carts,
        sum(purchase_count) as purchases,
        count(*) as interacting_users

    from pair_interactions
    group by product_id

),

joined as (

    select
        products.product_id,
        products.sku,
        products.product_name,
        products.category,
        products.is_active,
        products.price,
        coalesce(product_interactions.interacting_users, 0) as interacting_users,
        coalesce(product_interactions.views, 0) as views,
        coalesce(product_interactions.clicks, 0) as clicks,
        coalesce(product_interactions.add_to_carts, 0) as add_to_carts,
        coalesce(product_interactions.purchases, 0) as purchases,
        coalesce(product_sales.orders, 0) as orders,
        coalesce(product_sales.units_sold, 0) as units_sold,
        coalesce(product_sales.revenue, 0) as revenue

    from products
    left join product_interactions
        on products.product_id = product_interactions.product_id
    left join product_sales
        on products.product_id = product_sales.product_id

),

final as (

    select
        product_id,
        sku,
        product_name,
        category,
        is_active,
        price,
        cast(interacting_users as integer) as interacting_users,
        cast(views as integer) as views,
        cast(clicks as integer) as clicks,
        cast(add_to_carts as integer) as add_to_carts,
        cast(purchases as integer) as purchases,
        {{ safe_ratio('clicks', 'views') }} as view_to_click_rate,
        {{ safe_ratio('add_to_carts', 'clicks') }} as click_to_cart_rate,
        {{ safe_ratio('purchases', 'add_to_carts') }} as cart_to_purchase_rate,
        {{ safe_ratio('purchases', 'views') }} as view_to_purchase_rate,
        cast(orders as integer) as orders,
        cast(units_sold as integer) as units_sold,
        cast(revenue as numeric(14, 2)) as revenue

    from joined

)

select * from final
