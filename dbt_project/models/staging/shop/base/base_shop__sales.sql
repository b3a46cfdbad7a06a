{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="{{ in_processing_days('_ds') }}",
        on_schema_change='fail',
        indexes=[
            {'columns': ['_ds']},
            {'columns': ['sale_id']},
        ],
        dist='sale_id',
        sort=['_ds'],
    )
}}
-- Every raw sale-line version of the days processed, typed, with the reason it is rejected
-- (null when valid). Incremental by day. Rules: doc shop_cleaning_rules.
with

source as (

    select * from {{ source('shop', 'sales') }}
    {%- if is_incremental() %}
    where {{ in_processing_days('_ds') }}
    {%- endif %}

),

typed as (

    select
        sale_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        coalesce(discount, 0) as discount,
        {{ to_utc_timestamp('sold_at') }} as sold_at,
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
            when sale_id is null then 'missing sale_id'
            when updated_at is null then 'missing updated_at'
            when order_id is null then 'missing order_id'
            when product_id is null then 'missing product_id'
            when quantity is null or quantity <= 0 then 'invalid quantity'
            when unit_price is null or unit_price < 0 then 'invalid unit_price'
            when discount < 0 or discount > quantity * unit_price then 'invalid discount'
        end as rejection_reason

    from typed

),

final as (

    select
        sale_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        discount,
        sold_at,
        updated_at,
        rejection_reason,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from classified

)

select * from final
