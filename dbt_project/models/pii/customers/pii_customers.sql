-- One row per customer in clear text, address flattened: for the few who need contact
-- details (PII readers only; restricted `pii` schema). Never referenced by marts or reports.
with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

addresses as (

    select * from {{ ref('int_customer_addresses_flattened') }}

),

final as (

    select
        customers.customer_id,
        customers.first_name,
        customers.last_name,
        customers.email,
        customers.phone,
        addresses.street,
        addresses.unit,
        addresses.city,
        addresses.state,
        addresses.postal_code,
        addresses.country,
        addresses.address_status,
        customers.created_at as signed_up_at,
        customers.updated_at

    from customers
    left join addresses
        on customers.customer_id = addresses.customer_id

)

select * from final
