-- Clean interactions: one row per interaction_id, typed. Rules: doc interaction_cleaning_rules.
-- `_load_id` names the load (raw.load_audit has its file and time).
-- A view over the base model's clean rows: a filter on `_ds` reaches the base table's index.
with

interactions as (

    select * from {{ ref('base_interactions__user_interactions') }}

),

final as (

    select
        interaction_id,
        user_id,
        product_id,
        action,
        interacted_at,
        _ds,
        _load_id

    from interactions
    where rejection_reason is null

)

select * from final
