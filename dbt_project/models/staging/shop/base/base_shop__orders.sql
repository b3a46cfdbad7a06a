{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="{{ in_processing_days('_ds') }}",
        on_schema_change='fail',
        indexes=[
            {'columns': ['_ds']},
            {'columns': ['order_id']},
        ],
        dist='order_id',
        sort=['_ds'],
    )
}}
-- Every raw order version of the days processed, typed, with the reason it is rejected (null
-- when valid). Incremental by day. Rules: doc shop_cleaning_rules; the quantity is resolved
-- later (doc order_quantity_rule).
with

source as (

    select * from {{ source('shop', 'orders') }}
    {%- if is_incremental() %}
    where {{ in_processing_days('_ds') }}
    {%- endif %}

),

typed as (

    select
        order_id,
        customer_id,
        nullif(lower(trim(status)), '') as status,
        case when quantity > 0 then quantity end as reported_quantity,
        {{ to_utc_timestamp('ordered_at') }} as ordered_at,
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
            when order_id is null then 'missing order_id'
            when updated_at is null then 'missing updated_at'
            when customer_id is null then 'missing customer_id'
            when ordered_at is null then 'missing ordered_at'
            when status is null
                or status not in ('delivered', 'shipped', 'placed', 'cancelled', 'returned')
                then 'unknown status'
        end as rejection_reason

    from typed

),

final as (

    select
        order_id,
        customer_id,
        status,
        reported_quantity,
        ordered_at,
        updated_at,
        rejection_reason,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from classified

)

select * from final
