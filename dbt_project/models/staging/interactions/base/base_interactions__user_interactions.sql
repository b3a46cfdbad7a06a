-- Every raw interaction, typed, with the reason it would be excluded (null when it is clean).
-- The two staging models split it: clean rows, and rejects with their reason.
with

source as (

    select * from {{ source('interactions', 'user_interactions') }}

),

typed as (

    select
        nullif(trim(interaction_id), '') as interaction_id_text,
        nullif(trim(user_id), '') as user_id_text,
        nullif(trim(product_id), '') as product_id_text,
        nullif(trim("timestamp"), '') as timestamp_text,
        nullif(trim(action), '') as action_text,
        {{ safe_cast_id('interaction_id') }} as interaction_id,
        {{ safe_cast_id('user_id') }} as user_id,
        {{ safe_cast_id('product_id') }} as product_id,
        coalesce(nullif(lower(trim(action)), ''), 'unknown') as action,
        {{ safe_to_timestamp('"timestamp"') }} as interacted_at,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from source

),

classified as (

    select
        *,
        case
            when interaction_id_text is null then 'missing interaction_id'
            when interaction_id is null then 'invalid interaction_id'
            when user_id_text is null then 'missing user_id'
            when user_id is null then 'invalid user_id'
            when product_id_text is null then 'missing product_id'
            when product_id is null then 'invalid product_id'
            when timestamp_text is null then 'missing timestamp'
            when interacted_at is null then 'malformed timestamp'
        end as invalid_reason

    from typed

),

ranked as (

    select
        *,
        row_number() over (
            partition by interaction_id, invalid_reason is null
            order by _ds, _load_id, interacted_at, user_id, product_id, action
        ) as delivery_number

    from classified

),

final as (

    select
        interaction_id,
        user_id,
        product_id,
        action,
        interacted_at,
        interaction_id_text,
        user_id_text,
        product_id_text,
        timestamp_text,
        action_text,
        coalesce(
            invalid_reason,
            case when delivery_number > 1 then 'duplicate interaction_id' end
        ) as rejection_reason,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from ranked

)

select * from final
