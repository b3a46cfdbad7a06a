-- Each clean interaction, with how many interactions its user had with its product.
with

interactions as (

    select * from {{ ref('stg_interactions__user_interactions') }}

),

pair_counts as (

    select * from {{ ref('int_user_product_interactions_aggregated') }}

),

final as (

    select
        interactions.interaction_id,
        interactions.user_id,
        interactions.product_id,
        interactions.action,
        interactions.interacted_at,
        cast(interactions.interacted_at as date) as interaction_date,
        pair_counts.interaction_count,
        interactions._ds,
        interactions._load_id

    from interactions
    inner join pair_counts
        on interactions.user_id = pair_counts.user_id
        and interactions.product_id = pair_counts.product_id

)

select * from final
