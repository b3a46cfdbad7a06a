-- Per customer: revenue orders, revenue, first and last order, tenure and the predicted
-- customer lifetime value (doc clv_formula), as of the latest order day in the data. Built
-- from the compact per-customer state (int_customer_orders_summarized), not from the orders:
-- the as-of day moves every day, so every customer's figures do.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

customer_orders as (

    select * from {{ ref('int_customer_orders_summarized') }}
    where orders > 0

),

as_of as (

    -- the latest order day (any status): read from the order_date index of fct_orders
    select max(order_date) as as_of_date
    from {{ ref('fct_orders') }}

),

measured as (

    select
        customers.customer_id,
        customers.country,
        customers.signed_up_at,
        coalesce(customer_orders.orders, 0) as orders,
        coalesce(customer_orders.revenue, 0) as revenue,
        customer_orders.first_order_at,
        customer_orders.last_order_at,
        as_of.as_of_date,
        {{ dbt.datediff(
            'customer_orders.first_order_date', 'as_of.as_of_date', 'day'
        ) }} as tenure_days,
        {{ dbt.datediff(
            'customer_orders.last_order_date', 'as_of.as_of_date', 'day'
        ) }} as days_since_last_order

    from customers
    left join customer_orders
        on customers.customer_id = customer_orders.customer_id
    cross join as_of

),

valued as (

    select
        *,
        case when tenure_days > 30 then tenure_days else 30 end as observed_days,
        cast(revenue as numeric(18, 6)) * 30 * {{ var('clv_horizon_months') }} as revenue_over_horizon

    from measured

),

final as (

    select
        customer_id,
        country,
        signed_up_at,
        cast(orders as integer) as orders,
        cast(revenue as numeric(14, 2)) as revenue,
        first_order_at,
        last_order_at,
        as_of_date,
        cast(tenure_days as integer) as tenure_days,
        cast(days_since_last_order as integer) as days_since_last_order,
        {{ safe_ratio('revenue', 'orders', 12, 2) }} as average_order_value,
        {{ safe_ratio('orders * 30', 'observed_days', 12, 4) }} as orders_per_month,
        cast(round(revenue_over_horizon / observed_days, 2) as numeric(14, 2)) as predicted_clv,
        case
            when orders = 0 then 'prospect'
            when days_since_last_order > {{ var('at_risk_after_days') }} then 'at_risk'
            else 'active'
        end as lifecycle_stage

    from valued

)

select * from final
