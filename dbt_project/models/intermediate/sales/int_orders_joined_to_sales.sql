{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="order_id in ({{ orders_touched_by_processed_days() }})",
        on_schema_change='fail',
        indexes=[
            {'columns': ['order_id'], 'unique': true},
            {'columns': ['customer_id']},
            {'columns': ['_last_ds']},
        ],
        dist='order_id',
        sort=['order_id'],
    )
}}
-- depends_on: {{ ref('base_shop__orders') }}
-- depends_on: {{ ref('base_shop__sales') }}
-- One row per order, joined to its sales lines: line totals, the resolved quantity (doc
-- order_quantity_rule) and whether the order counts as revenue (doc revenue_definition).
-- Incremental (doc incremental_lineage): a run recomputes the orders whose version or lines
-- came from its days, now or before (`_first_ds`/`_last_ds`), reading them through indexes.
with

{% if is_incremental() %}
touched_orders as (

    {{ orders_touched_by_processed_days() }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}
    where order_id in (select touched_orders.order_id from touched_orders)

),

sales as (

    select * from {{ ref('stg_shop__sales') }}
    where order_id in (select touched_orders.order_id from touched_orders)

),
{% else %}
orders as (

    select * from {{ ref('stg_shop__orders') }}

),

sales as (

    select * from {{ ref('stg_shop__sales') }}

),
{% endif %}

order_lines as (

    select
        order_id,
        count(*) as line_count,
        sum(quantity) as units_from_lines,
        sum(quantity * unit_price) as gross_amount,
        sum(discount) as discount_amount,
        min(_ds) as lines_first_ds,
        max(_ds) as lines_last_ds

    from sales
    group by order_id

),

joined as (

    select
        orders.order_id,
        orders.customer_id,
        orders.status,
        orders.status in {{ revenue_order_statuses() }} as is_revenue_order,
        orders.ordered_at,
        cast(orders.ordered_at as date) as order_date,
        orders.reported_quantity,
        order_lines.units_from_lines,
        coalesce(order_lines.line_count, 0) as line_count,
        coalesce(order_lines.gross_amount, 0) as gross_amount,
        coalesce(order_lines.discount_amount, 0) as discount_amount,
        orders.updated_at,
        orders._ds,
        {{ least_of('orders._ds', 'order_lines.lines_first_ds') }} as _first_ds,
        {{ greatest_of('orders._ds', 'order_lines.lines_last_ds') }} as _last_ds

    from orders
    left join order_lines
        on orders.order_id = order_lines.order_id

),

final as (

    select
        order_id,
        customer_id,
        status,
        is_revenue_order,
        ordered_at,
        order_date,
        coalesce(reported_quantity, units_from_lines) as quantity,
        case
            when reported_quantity is not null then 'reported'
            when units_from_lines is not null then 'derived_from_sales'
            else 'unknown'
        end as quantity_source,
        reported_quantity,
        coalesce(units_from_lines, 0) as units_from_lines,
        coalesce(reported_quantity <> units_from_lines, false) as quantity_disagrees_with_sales,
        line_count,
        cast(gross_amount as numeric(12, 2)) as gross_amount,
        cast(discount_amount as numeric(12, 2)) as discount_amount,
        cast(gross_amount - discount_amount as numeric(12, 2)) as net_amount,
        updated_at,
        _ds,
        _first_ds,
        _last_ds

    from joined

)

select * from final
