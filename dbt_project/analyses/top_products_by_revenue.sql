-- The products that brought the most revenue, with their share of the total and their funnel.
-- `dbt compile --select top_products_by_revenue`, then run target/compiled/.../*.sql.
with

products as (

    select * from {{ ref('rpt_product_performance') }}

),

ranked as (

    select
        product_id,
        sku,
        product_name,
        category,
        revenue,
        units_sold,
        orders,
        views,
        view_to_purchase_rate,
        round(100.0 * revenue / nullif(sum(revenue) over (), 0), 2) as revenue_share_percent,
        rank() over (order by revenue desc) as revenue_rank

    from products

)

select * from ranked
where revenue_rank <= 20
order by revenue_rank, product_id
