-- One row per user and product that interacted: totals per action, first and last seen.
with

pair_counts as (

    select * from {{ ref('int_user_product_interactions_aggregated') }}

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
        last_interacted_at

    from pair_counts

)

select * from final
