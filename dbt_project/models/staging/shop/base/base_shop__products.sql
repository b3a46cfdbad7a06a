-- Every raw product version (a full snapshot per day), typed, with the reason it is rejected
-- (null when valid) and its standing: current, superseded or rejected.
-- Rules: doc shop_cleaning_rules, shop_versioning_rule.
with

source as (

    select * from {{ source('shop', 'products') }}

),

typed as (

    select
        product_id,
        nullif(trim(sku), '') as sku,
        nullif(trim(name), '') as product_name,
        nullif(lower(trim(category)), '') as category,
        price,
        is_active,
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
            when product_id is null then 'missing product_id'
            when updated_at is null then 'missing updated_at'
            when price < 0 then 'negative price'
        end as rejection_reason

    from typed

),

versioned as (

    select
        *,
        {{ version_rank('product_id') }} as version_rank

    from classified

),

final as (

    select
        product_id,
        sku,
        product_name,
        category,
        price,
        is_active,
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
