{{
    config(
        materialized='incremental',
        incremental_strategy='day_partitions',
        replace_where="{{ in_processing_days('_ds') }}",
        on_schema_change='fail',
        dist='user_id',
        sort=['_ds', 'user_id', 'product_id'],
    )
}}
-- One row per user, product, delivery day (`_ds`) and UTC day of the interactions: what that
-- day's delivery holds for the pair (counts per action, first and last interaction). The
-- per-pair totals (int_user_product_interactions_summarized) and the per-user day counts of the
-- funnel are built from it. A run reads the clean interactions of its days once. A pair the
-- days held before but no longer do (a day reloaded without it) keeps a row with nothing
-- delivered, so the models built from it know to take it back (doc user_product_running_totals).
with

interactions as (

    select * from {{ ref('stg_interactions__user_interactions') }}
    {%- if is_incremental() %}
    where {{ in_processing_days('_ds') }}
    {%- endif %}

),

delivered as (

    select
        _ds,
        cast(interacted_at as date) as interaction_date,
        user_id,
        product_id,
        count(*) as interaction_count,
        sum(case when action = 'view' then 1 else 0 end) as view_count,
        sum(case when action = 'click' then 1 else 0 end) as click_count,
        sum(case when action = 'add_to_cart' then 1 else 0 end) as add_to_cart_count,
        sum(case when action = 'purchase' then 1 else 0 end) as purchase_count,
        sum(case when action not in ('view', 'click', 'add_to_cart', 'purchase') then 1 else 0 end)
            as other_action_count,
        sum(case when action not in {{ sql_string_list(known_interaction_actions()) }} then 1 else 0 end)
            as unexpected_action_count,
        min(interacted_at) as first_interacted_at,
        max(interacted_at) as last_interacted_at

    from interactions
    group by _ds, cast(interacted_at as date), user_id, product_id

),

{%- set withdraws = is_incremental() and processes_some_days() %}
{% if withdraws %}
withdrawn as (

    -- rows an earlier run of these days wrote that the days no longer hold: kept empty (an
    -- all-days run builds every day again: nothing to withdraw)
    select
        previous._ds,
        previous.interaction_date,
        previous.user_id,
        previous.product_id,
        0 as interaction_count,
        0 as view_count,
        0 as click_count,
        0 as add_to_cart_count,
        0 as purchase_count,
        0 as other_action_count,
        0 as unexpected_action_count,
        cast(null as timestamp) as first_interacted_at,
        cast(null as timestamp) as last_interacted_at

    from {{ this }} as previous
    where
        {{ in_processing_days('previous._ds') }}
        and not exists (
            select 1
            from delivered
            where
                delivered._ds = previous._ds
                and delivered.interaction_date = previous.interaction_date
                and delivered.user_id = previous.user_id
                and delivered.product_id = previous.product_id
        )

),
{% endif %}

final as (

    select * from delivered
    {%- if withdraws %}

    union all

    select * from withdrawn
    {%- endif %}

)

select * from final
