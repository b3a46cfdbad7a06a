{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="customer_id in ({{ customers_touched_by_processed_days(ref('int_orders_joined_to_sales')) }})",
        on_schema_change='fail',
        indexes=[
            {'columns': ['customer_id']},
            {'columns': ['order_date']},
            {'columns': ['_last_ds']},
        ],
        dist='customer_id',
        sort=['order_date'],
    )
}}
-- One row per order with its line totals, resolved quantity (doc order_quantity_rule) and the
-- customer's revenue-order sequence (doc revenue_definition). Incremental (doc
-- incremental_lineage): the sequence spans a customer's orders, so a run recomputes every
-- order of the customers whose orders its days touched (through the customer_id index).
with

{% if is_incremental() %}
orders as (

    select * from {{ ref('int_orders_joined_to_sales') }}
    where customer_id in ({{ customers_touched_by_processed_days(ref('int_orders_joined_to_sales')) }})

),
{% else %}
orders as (

    select * from {{ ref('int_orders_joined_to_sales') }}

),
{% endif %}

sequenced as (

    select
        *,
        row_number() over (
            partition by customer_id, is_revenue_order
            order by ordered_at asc, order_id asc
        ) as status_order_number

    from orders

),

final as (

    select
        order_id,
        customer_id,
        status,
        is_revenue_order,
        ordered_at,
        order_date,
        cast(quantity as integer) as quantity,
        quantity_source,
        cast(reported_quantity as integer) as reported_quantity,
        cast(units_from_lines as integer) as units_from_lines,
        quantity_disagrees_with_sales,
        cast(line_count as integer) as line_count,
        cast(gross_amount as numeric(12, 2)) as gross_amount,
        cast(discount_amount as numeric(12, 2)) as discount_amount,
        cast(net_amount as numeric(12, 2)) as net_amount,
        cast(case when is_revenue_order then status_order_number end as integer) as revenue_order_number,
        coalesce(is_revenue_order and status_order_number = 1, false) as is_first_revenue_order,
        updated_at,
        _ds,
        _first_ds,
        _last_ds

    from sequenced

)

select * from final
