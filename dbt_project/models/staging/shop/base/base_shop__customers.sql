-- Every raw customer version, typed, with the reason it is rejected (null when valid) and its
-- standing: the current version of its customer, a superseded one, or rejected.
-- Rules: doc shop_cleaning_rules, shop_versioning_rule.
with

source as (

    select * from {{ source('shop', 'customers') }}

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

versioned as (

    select
        *,
        {{ version_rank('customer_id') }} as version_rank

    from classified

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
        {{ row_status() }} as row_status,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from versioned

)

select * from final
