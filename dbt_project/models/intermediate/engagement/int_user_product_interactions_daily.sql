-- Interactions re-grained to one row per user, product and UTC day: totals and per-action counts.
with

interactions as (

    select * from {{ ref('stg_interactions__user_interactions') }}

),

aggregated as (

    select
        user_id,
        product_id,
        cast(interacted_at as date) as interaction_date,
        count(*) as interaction_count,
        sum(case when action = 'view' then 1 else 0 end) as view_count,
        sum(case when action = 'click' then 1 else 0 end) as click_count,
        sum(case when action = 'add_to_cart' then 1 else 0 end) as add_to_cart_count,
        sum(case when action = 'purchase' then 1 else 0 end) as purchase_count,
        sum(case when action not in ('view', 'click', 'add_to_cart', 'purchase') then 1 else 0 end)
            as other_action_count

    from interactions
    group by user_id, product_id, cast(interacted_at as date)

)

select * from aggregated
