-- Raw interactions excluded from staging, with the reason, as delivered. Together with
-- stg_interactions__user_interactions they account for every raw row.
with

interactions as (

    select * from {{ ref('base_interactions__user_interactions') }}

),

final as (

    select
        interaction_id_text as interaction_id,
        user_id_text as user_id,
        product_id_text as product_id,
        action_text as action,
        timestamp_text as "timestamp",
        rejection_reason,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from interactions
    where rejection_reason is not null

)

select * from final
