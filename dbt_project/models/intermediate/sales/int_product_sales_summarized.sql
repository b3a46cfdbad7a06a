{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="product_id in ({{ products_touched_by_processed_days() }})",
        on_schema_change='fail',
        indexes=[
            {'columns': ['product_id'], 'unique': true},
        ],
        dist='product_id',
        sort=['product_id'],
    )
}}
-- depends_on: {{ ref('base_shop__sales') }}
-- One row per product sold in a revenue order: revenue orders, units and revenue (doc
-- revenue_definition). The compact per-product state of rpt_product_performance.
-- Incremental (doc incremental_lineage): a run recomputes the products of the sale lines its
-- days touched, from those products' lines (the product_id index of fct_sales).
with

sales as (

    select * from {{ ref('fct_sales') }}
    where is_revenue_order
    {%- if is_incremental() %}
        and product_id in ({{ products_touched_by_processed_days() }})
    {%- endif %}

),

summarized as (

    select
        product_id,
        count(distinct order_id) as orders,
        sum(quantity) as units_sold,
        sum(net_amount) as revenue

    from sales
    group by product_id

),

final as (

    select
        product_id,
        cast(orders as integer) as orders,
        cast(units_sold as integer) as units_sold,
        cast(revenue as numeric(14, 2)) as revenue

    from summarized

)

select * from final
