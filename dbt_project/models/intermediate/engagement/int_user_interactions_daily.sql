{{
    config(
        materialized='incremental',
        incremental_strategy='day_partitions',
        replace_where="{{ in_processing_days('_ds') }}",
        on_schema_change='fail',
        indexes=[{'columns': ['interaction_date']}],
        dist='interaction_date',
        sort=['interaction_date', '_ds'],
    )
}}
-- One row per user, UTC day of the interactions and delivery day (`_ds`): the user's events
-- per funnel step that the day's delivery holds for that UTC day, summed over products from
-- int_user_product_interactions_daily. The funnel report sums a UTC day's rows (doc
-- funnel_steps); the day's reconciliation and the action check read it too. Small: users, not
-- pairs. Withdrawn pairs give rows with no events, so their day is recounted.
with

pair_days as (

    select * from {{ ref('int_user_product_interactions_daily') }}
    {%- if is_incremental() %}
    where {{ in_processing_days('_ds') }}
    {%- endif %}

),

final as (

    select
        _ds,
        interaction_date,
        user_id,
        cast(sum(interaction_count) as bigint) as interaction_count,
        cast(sum(view_count) as bigint) as view_count,
        cast(sum(click_count) as bigint) as click_count,
        cast(sum(add_to_cart_count) as bigint) as add_to_cart_count,
        cast(sum(purchase_count) as bigint) as purchase_count,
        cast(sum(unexpected_action_count) as bigint) as unexpected_action_count

    from pair_days
    group by _ds, interaction_date, user_id

)

select * from final
