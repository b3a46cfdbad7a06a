{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="{{ in_processing_days('_ds') }}",
        on_schema_change='fail',
        indexes=[{'columns': ['_ds']}],
        post_hook=["{{ create_staged_interactions_indexes() }}"],
        dist='interaction_id',
        sort=['_ds'],
    )
}}
-- Every raw interaction of the days processed, typed, with the reason it is excluded from
-- staging (null when it is clean). Rules: doc interaction_cleaning_rules. Incremental by day
-- (doc processing_days): a run reads the raw partitions of its days and, for re-delivered
-- ids, the ids already staged on other days (an index lookup), never the whole history.
with

source as (

    select * from {{ source('interactions', 'user_interactions') }}
    {%- if is_incremental() %}
    where {{ in_processing_days('_ds') }}
    {%- endif %}

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

    -- the first delivery of an id among the days processed
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
        ranked.interaction_id,
        ranked.user_id,
        ranked.product_id,
        ranked.action,
        ranked.interacted_at,
        ranked.interaction_id_text,
        ranked.user_id_text,
        ranked.product_id_text,
        ranked.timestamp_text,
        ranked.action_text,
        coalesce(
            ranked.invalid_reason,
            case
                when ranked.delivery_number > 1 then 'duplicate interaction_id'
                {%- if is_incremental() %}
                when staged_elsewhere.interaction_id is not null then 'duplicate interaction_id'
                {%- endif %}
            end
        ) as rejection_reason,
        ranked._ds,
        ranked._source_file,
        ranked._load_id,
        ranked._loaded_at

    from ranked
    {%- if is_incremental() %}
    -- a first delivery whose id a day outside this run already staged is a re-delivery
    {{ join_staged_elsewhere('ranked', this) }}
    {%- endif %}

)

select * from final
