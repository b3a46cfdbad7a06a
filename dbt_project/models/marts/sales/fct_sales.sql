{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='sale_id',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['sale_id'], 'unique': true},
            {'columns': ['_ds']},
            {'columns': ['order_id']},
            {'columns': ['product_id']},
        ],
        dist='order_id',
        sort=['sold_date'],
        post_hook=["{{ delete_rows_no_longer_staged('sale_id', ref('stg_shop__sales')) }}"],
    )
}}
-- One row per sale line (order line) with its order's customer and status.
-- Incremental by day (doc processing_days): a run writes the lines whose latest version arrived
-- on the days processed, and the lines of orders that changed on those days; lines of those
-- days that are no longer staged are removed (post-hook), so re-running a day replaces it.
with

sales as (

    select * from {{ ref('stg_shop__sales') }}

),

orders as (

    select * from {{ ref('int_orders_joined_to_sales') }}

),

{% if is_incremental() %}
changed_orders as (

    select order_id from orders
    where {{ in_processing_days('_ds') }}

),
{% endif %}

final as (

    select
        sales.sale_id,
        sales.order_id,
        orders.customer_id,
        sales.product_id,
        orders.status as order_status,
        orders.is_revenue_order,
        orders.ordered_at,
        orders.order_date,
        sales.sold_at,
        cast(sales.sold_at as date) as sold_date,
        cast(sales.quantity as integer) as quantity,
        cast(sales.unit_price as numeric(10, 2)) as unit_price,
        cast(sales.discount as numeric(10, 2)) as discount,
        cast(sales.quantity * sales.unit_price as numeric(12, 2)) as gross_amount,
        cast(sales.quantity * sales.unit_price - sales.discount as numeric(12, 2)) as net_amount,
        sales.updated_at,
        sales._ds

    from sales
    inner join orders
        on sales.order_id = orders.order_id
    {% if is_incremental() %}
    where
        {{ in_processing_days('sales._ds') }}
        or sales.order_id in (select changed_orders.order_id from changed_orders)
    {% endif %}

)

select * from final
