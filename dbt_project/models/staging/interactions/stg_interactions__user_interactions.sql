-- Clean interactions: one row per interaction_id, typed. Rules: doc interaction_cleaning_rules.
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
        _source_file,
        _load_id,
        _loaded_at

    from interactions
    where rejection_reason is null

)

select * from final
