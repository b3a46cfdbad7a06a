{{ config(materialized='view') }}
-- One row per user and product that interacted: totals per action, first and last seen, over
-- all loaded days. A view of the per-pair state int_user_product_interactions_summarized,
-- merged by delta every day (doc user_product_running_totals).
with

pair_totals as (

    select * from {{ ref('int_user_product_interactions_summarized') }}

),

final as (

    select
        user_id,
        product_id,
        interaction_count,
        view_count,
        click_count,
        add_to_cart_count,
        purchase_count,
        other_action_count,
        first_interacted_at,
        last_interacted_at,
        _ds

    from pair_totals

)

select * from final
