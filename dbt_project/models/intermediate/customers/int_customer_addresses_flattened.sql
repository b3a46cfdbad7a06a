-- One row per customer: the address JSON flattened into columns. A malformed document gives
-- nulls and address_status = 'malformed' (counted, never failing the run). Clear-text PII.
with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

flattened as (

    select
        customer_id,
        case
            when address is null then 'missing'
            when {{ is_json_object('address') }} then 'valid'
            else 'malformed'
        end as address_status,
        {{ flatten_json_object('address', ['street', 'unit', 'city', 'state', 'postal_code', 'country']) }}

    from customers

),

final as (

    select
        customer_id,
        street,
        unit,
        city,
        state,
        postal_code,
        upper(country) as country,
        address_status,
        address_status = 'malformed' as address_is_malformed

    from flattened

)

select * from final
