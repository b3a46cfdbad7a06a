{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="customer_id in ({{ customer_summaries_touched_by_processed_days() }})",
        on_schema_change='fail',
        indexes=[
            {'columns': ['customer_id'], 'unique': true},
            {'columns': ['_last_ds']},
        ],
        dist='customer_id',
        sort=['customer_id'],
    )
}}
-- One row per customer with an order: the customer's revenue orders, revenue, first and latest
-- revenue order (doc revenue_definition). The compact per-customer state the lifetime-value
-- and daily-sales reports read. Incremental (doc incremental_lineage): a run recomputes the
-- customers whose orders its days touched, from their orders (the customer_id index).
with

orders as (

    select * from {{ ref('fct_orders') }}
    {%- if is_incremental() %}
    where customer_id in ({{ customer_summaries_touched_by_processed_days() }})
    {%- endif %}

),

summarized as (

    select
        customer_id,
        sum(case when is_revenue_order then 1 else 0 end) as orders,
        sum(case when is_revenue_order then net_amount else 0 end) as revenue,
        min(case when is_revenue_order then ordered_at end) as first_order_at,
        max(case when is_revenue_order then ordered_at end) as last_order_at,
        min(case when is_revenue_order then order_date end) as first_order_date,
        max(case when is_revenue_order then order_date end) as last_order_date,
        min(_first_ds) as _first_ds,
        max(_last_ds) as _last_ds

    from orders
    group by customer_id

),

final as (

    select
        customer_id,
        cast(orders as integer) as orders,
        cast(revenue as numeric(14, 2)) as revenue,
        first_order_at,
        last_order_at,
        first_order_date,
        last_order_date,
        _first_ds,
        _last_ds

    from summarized

)

select * from final
