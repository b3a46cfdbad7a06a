{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="{{ in_processing_days('_ds') }}",
        on_schema_change='fail',
        indexes=[
            {'columns': ['_ds']},
            {'columns': ['product_id']},
        ],
        dist='product_id',
        sort=['_ds'],
    )
}}
-- Every raw product version of the days processed (a full snapshot per day), typed, with the
-- reason it is rejected (null when valid). Incremental by day. Rules: doc shop_cleaning_rules.
with

source as (

    select * from {{ source('shop', 'products') }}
    {%- if is_incremental() %}
    where {{ in_processing_days('_ds') }}
    {%- endif %}

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
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from classified

)

select * from final
