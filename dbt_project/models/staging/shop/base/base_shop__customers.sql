{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="{{ in_processing_days('_ds') }}",
        on_schema_change='fail',
        indexes=[
            {'columns': ['_ds']},
            {'columns': ['customer_id']},
        ],
        dist='customer_id',
        sort=['_ds'],
    )
}}
-- Every raw customer version of the days processed, typed, with the reason it is rejected (null
-- when valid). Incremental by day (doc processing_days). Rules: doc shop_cleaning_rules.
with

source as (

    select * from {{ source('shop', 'customers') }}
    {%- if is_incremental() %}
    where {{ in_processing_days('_ds') }}
    {%- endif %}

),

typed as (

    select
        customer_id,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        nullif(lower(trim(email)), '') as email,
        nullif(trim(phone), '') as phone,
        nullif(trim(address), '') as address,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
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
            when customer_id is null then 'missing customer_id'
            when updated_at is null then 'missing updated_at'
        end as rejection_reason

    from typed

),

final as (

    select
        customer_id,
        first_name,
        last_name,
        email,
        phone,
        address,
        created_at,
        updated_at,
        rejection_reason,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from classified

)

select * from final
