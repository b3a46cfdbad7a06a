{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="sale_id in ({{ sales_touched_by_processed_days() }})",
        on_schema_change='fail',
        indexes=[
            {'columns': ['order_id']},
            {'columns': ['product_id']},
            {'columns': ['_last_ds']},
        ],
        dist='order_id',
        sort=['sold_date'],
    )
}}
-- depends_on: {{ ref('base_shop__sales') }}
-- One row per sale line (order line) with its order's customer and status.
-- Incremental (doc incremental_lineage): a run recomputes the lines whose version or whose
-- order came from its days, now or before (`_first_ds`/`_last_ds`), through indexes.
with

{% if is_incremental() %}
touched_sales as (

    {{ sales_touched_by_processed_days() }}

),

sales as (

    select * from {{ ref('stg_shop__sales') }}
    where sale_id in (select touched_sales.sale_id from touched_sales)

),
{% else %}
sales as (

    select * from {{ ref('stg_shop__sales') }}

),
{% endif %}

orders as (

    select * from {{ ref('int_orders_joined_to_sales') }}

),

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
        sales._ds,
        {{ least_of('sales._ds', 'orders._ds') }} as _first_ds,
        {{ greatest_of('sales._ds', 'orders._ds') }} as _last_ds

    from sales
    inner join orders
        on sales.order_id = orders.order_id

)

select * from final
