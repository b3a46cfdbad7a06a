-- Every raw order version, typed, with the reason it is rejected (null when valid) and its
-- standing: current, superseded or rejected. Rules: doc shop_cleaning_rules,
-- shop_versioning_rule; the quantity is resolved later (doc order_quantity_rule).
with

source as (

    select * from {{ source('shop', 'orders') }}

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

versioned as (

    select
        *,
        {{ version_rank('order_id') }} as version_rank

    from classified

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
        {{ row_status() }} as row_status,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from versioned

)

select * from final
