-- One row per customer: its current version with the address JSON flattened into columns, the
-- one row both customer marts (dim_customers masked, pii_customers in clear text) select. A
-- malformed document gives nulls and address_status = 'malformed' (counted, never failing the
-- run). Clear-text PII. A view: a mart's filter on customer_id reaches the staged customers'
-- key index.
with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

flattened as (

    select
        customer_id,
        first_name,
        last_name,
        email,
        phone,
        case
            when address is null then 'missing'
            when {{ is_json_object('address') }} then 'valid'
            else 'malformed'
        end as address_status,
        {{ flatten_json_object('address', ['street', 'unit', 'city', 'state', 'postal_code', 'country']) }},
        created_at,
        updated_at,
        _ds

    from customers

),

final as (

    select
        customer_id,
        first_name,
        last_name,
        email,
        phone,
        street,
        unit,
        city,
        state,
        postal_code,
        upper(country) as country,
        address_status,
        address_status = 'malformed' as address_is_malformed,
        created_at,
        updated_at,
        _ds

    from flattened

)

select * from final
