{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="funnel_date in ({{ funnel_dates_touched_by_processed_days() }})",
        on_schema_change='fail',
        indexes=[{'columns': ['_last_ds']}],
        dist='all',
        sort=['funnel_date'],
    )
}}
-- The site funnel per UTC day: events and distinct users at each step (view, click,
-- add_to_cart, purchase), step conversion rates, and the day's revenue orders. Incremental by
-- day (doc incremental_lineage): a run recounts the UTC days its deliveries hold interactions
-- for and the days whose orders it touched, from those days' per-user counts (a few thousand
-- rows a day) and orders.
with

daily_interactions as (

    select * from {{ ref('int_user_interactions_daily') }}
    {%- if is_incremental() %}
    where interaction_date in ({{ funnel_dates_touched_by_processed_days() }})
    {%- endif %}

),

user_days as (

    select
        interaction_date,
        user_id,
        sum(interaction_count) as interactions,
        sum(view_count) as views,
        sum(click_count) as clicks,
        sum(add_to_cart_count) as add_to_carts,
        sum(purchase_count) as purchases,
        min(_ds) as first_delivery_ds,
        max(_ds) as last_delivery_ds

    from daily_interactions
    group by interaction_date, user_id

),

funnel as (

    select
        interaction_date as funnel_date,
        sum(case when interactions > 0 then 1 else 0 end) as active_users,
        sum(views) as views,
        sum(clicks) as clicks,
        sum(add_to_carts) as add_to_carts,
        sum(purchases) as purchases,
        sum(case when views > 0 then 1 else 0 end) as viewers,
        sum(case when clicks > 0 then 1 else 0 end) as clickers,
        sum(case when add_to_carts > 0 then 1 else 0 end) as cart_users,
        sum(case when purchases > 0 then 1 else 0 end) as purchasers,
        min(first_delivery_ds) as first_delivery_ds,
        max(last_delivery_ds) as last_delivery_ds

    from user_days
    group by interaction_date

),

orders as (

    select * from {{ ref('fct_orders') }}
    where is_revenue_order
    {%- if is_incremental() %}
        and order_date in (select funnel.funnel_date from funnel)
    {%- endif %}

),

daily_orders as (

    select
        order_date,
        count(*) as orders,
        sum(net_amount) as revenue,
        min(_first_ds) as _first_ds,
        max(_last_ds) as _last_ds

    from orders
    group by order_date

),

final as (

    select
        funnel.funnel_date,
        cast(funnel.active_users as integer) as active_users,
        cast(funnel.views as integer) as views,
        cast(funnel.clicks as integer) as clicks,
        cast(funnel.add_to_carts as integer) as add_to_carts,
        cast(funnel.purchases as integer) as purchases,
        cast(funnel.viewers as integer) as viewers,
        cast(funnel.clickers as integer) as clickers,
        cast(funnel.cart_users as integer) as cart_users,
        cast(funnel.purchasers as integer) as purchasers,
        {{ safe_ratio('funnel.clickers', 'funnel.viewers') }} as viewer_to_clicker_rate,
        {{ safe_ratio('funnel.cart_users', 'funnel.clickers') }} as clicker_to_cart_rate,
        {{ safe_ratio('funnel.purchasers', 'funnel.cart_users') }} as cart_to_purchaser_rate,
        {{ safe_ratio('funnel.purchasers', 'funnel.viewers') }} as viewer_to_purchaser_rate,
        cast(coalesce(daily_orders.orders, 0) as integer) as orders,
        cast(coalesce(daily_orders.revenue, 0) as numeric(14, 2)) as revenue,
        {{ least_of('funnel.first_delivery_ds', 'daily_orders._first_ds') }} as _first_ds,
        {{ greatest_of('funnel.last_delivery_ds', 'daily_orders._last_ds') }} as _last_ds

    from funnel
    left join daily_orders
        on funnel.funnel_date = daily_orders.order_date
    where funnel.active_users > 0

)

select * from final
