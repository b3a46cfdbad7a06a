{{ config(materialized='view') }}
-- The cleaned interactions in the shape and under the name of the first version of this
-- pipeline (doc interaction_data): one row per interaction with `interaction_count`, the
-- number of interactions its user had with its product in that day's delivery. A view over
-- fct_interactions, whose indexes (user_id, product_id), (product_id) and the primary key serve
-- the retrieval queries in analyses/interaction_data_*.sql.
with

interactions as (

    select * from {{ ref('fct_interactions') }}

),

final as (

    select
        interaction_id,
        user_id,
        product_id,
        action,
        interacted_at as "timestamp",
        interaction_count

    from interactions

)

select * from final
