{{
    config(
        materialized='incremental',
        incremental_strategy='day_partitions',
        replace_where="{{ in_processing_days('_ds') }}",
        on_schema_change='fail',
        partition_indexes=[
            {'columns': ['interaction_id', '_ds'], 'unique': true, 'where': 'rejection_reason is null'},
            {'columns': ['user_id', 'product_id'], 'where': 'rejection_reason is null'},
            {'columns': ['_ds'], 'where': 'rejection_reason is not null'},
            {'columns': ['_ds'], 'where': 'rejection_reason is null and action not in '
                ~ sql_string_list(known_interaction_actions())},
        ],
        unique_across_days={'columns': ['interaction_id'], 'where': 'rejection_reason is null'},
        dist='interaction_id',
        sort=['_ds'],
    )
}}
-- Every raw interaction of the days processed, typed, with the reason it is excluded from
-- staging (null when it is clean). Rules: doc interaction_cleaning_rules. Incremental by day
-- (doc processing_days; doc day_partitions): a run reads the raw partitions of its days and,
-- for re-delivered ids, the ids already staged on other days (one probe each of the index of
-- every day's clean ids, `unique_across_days`), never the whole history. Indexes of each day (doc incremental_staging): its clean ids (the re-delivery
-- lookup, one interaction by id), its clean rows by (user_id, product_id) (a user's or a pair's
-- interactions, the day's count of a pair), its rejects, its clean rows with an action outside
-- the known ones (usually none: all the PII leak scan has to read of the day, doc pii_masking).
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

resolved as (

    select
        ranked.*,
        coalesce(
            ranked.invalid_reason,
            case
                when ranked.delivery_number > 1 then 'duplicate interaction_id'
                {%- if is_incremental() %}
                when staged_elsewhere.interaction_id is not null then 'duplicate interaction_id'
                {%- endif %}
            end
        ) as rejection_reason

    from ranked
    {%- if is_incremental() %}
    -- a first delivery whose id a day outside this run already staged is a re-delivery
    {{ join_staged_elsewhere('ranked', this) }}
    {%- endif %}

),

final as (

    -- the values as delivered, the file and the load time are kept for the rejected rows
    -- only: a clean row has its typed values, and its `_load_id` names the load (audit)
    select
        interaction_id,
        user_id,
        product_id,
        action,
        interacted_at,
        case when rejection_reason is not null then interaction_id_text end as interaction_id_text,
        case when rejection_reason is not null then user_id_text end as user_id_text,
        case when rejection_reason is not null then product_id_text end as product_id_text,
        case when rejection_reason is not null then timestamp_text end as timestamp_text,
        case when rejection_reason is not null then action_text end as action_text,
        rejection_reason,
        _ds,
        _load_id,
        case when rejection_reason is not null then _source_file end as _source_file,
        case when rejection_reason is not null then _loaded_at end as _loaded_at

    from resolved

)

select * from final
