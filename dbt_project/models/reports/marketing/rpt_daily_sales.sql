{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="order_date in ({{ order_dates_touched_by_processed_days() }})",
        on_schema_change='fail',
        indexes=[{'columns': ['_last_ds']}],
        dist='all',
        sort=['order_date'],
    )
}}
-- Sales per UTC day: orders, units, revenue, average order value, new and returning customers.
-- Definitions: doc revenue_definition, new_vs_returning. Incremental by day (doc
-- incremental_lineage): a run recounts the order days its days touched, from those days' orders
-- and the per-customer first order (int_customer_orders_summarized), through indexes.
with

orders as (

    select * from {{ ref('fct_orders') }}
    {%- if is_incremental() %}
    where order_date in ({{ order_dates_touched_by_processed_days() }})
    {%- endif %}

),

revenue_orders as (

    select * from orders
    where is_revenue_order

),

first_orders as (

    select
        customer_id,
        first_order_date

    from {{ ref('int_customer_orders_summarized') }}
    where customer_id in (select revenue_orders.customer_id from revenue_orders)

),

daily_orders as (

    select
        order_date,
        count(*) as orders_placed,
        sum(case when is_revenue_order then 1 else 0 end) as orders,
        sum(case when status = 'cancelled' then 1 else 0 end) as cancelled_orders,
        sum(case when status = 'returned' then 1 else 0 end) as returned_orders,
        min(_first_ds) as _first_ds,
        max(_last_ds) as _last_ds

    from orders
    group by order_date

),

daily_revenue as (

    select
        revenue_orders.order_date,
        sum(revenue_orders.quantity) as units,
        sum(revenue_orders.gross_amount) as gross_revenue,
        sum(revenue_orders.discount_amount) as discounts,
        sum(revenue_orders.net_amount) as revenue,
        count(distinct revenue_orders.customer_id) as customers,
        count(distinct case
            when first_orders.first_order_date = revenue_orders.order_date
                then revenue_orders.customer_id
        end) as new_customers,
        count(distinct case
            when first_orders.first_order_date < revenue_orders.order_date
                then revenue_orders.customer_id
        end) as returning_customers

    from revenue_orders
    inner join first_orders
        on revenue_orders.customer_id = first_orders.customer_id
    group by revenue_orders.order_date

),

final as (

    select
        daily_orders.order_date,
        cast(daily_orders.orders_placed as integer) as orders_placed,
        cast(daily_orders.orders as integer) as orders,
        cast(daily_orders.cancelled_orders as integer) as cancelled_orders,
        cast(daily_orders.returned_orders as integer) as returned_orders,
        cast(coalesce(daily_revenue.units, 0) as integer) as units,
        cast(coalesce(daily_revenue.gross_revenue, 0) as numeric(14, 2)) as gross_revenue,
        cast(coalesce(daily_revenue.discounts, 0) as numeric(14, 2)) as discounts,
        cast(coalesce(daily_revenue.revenue, 0) as numeric(14, 2)) as revenue,
        {{ safe_ratio('daily_revenue.revenue', 'daily_orders.orders', 12, 2) }} as average_order_value,
        cast(coalesce(daily_revenue.customers, 0) as integer) as customers,
        cast(coalesce(daily_revenue.new_customers, 0) as integer) as new_customers,
        cast(coalesce(daily_revenue.returning_customers, 0) as integer) as returning_customers,
        daily_orders._first_ds,
        daily_orders._last_ds

    from daily_orders
    left join daily_revenue
        on daily_orders.order_date = daily_revenue.order_date

)

select * from final
