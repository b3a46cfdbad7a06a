-- One row per shop customer, PII masked: the columns and their PII classes are declared in
-- _core__models.yml and select_masked() applies the masking (doc pii_masking).
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
        customers.email as email_hash,  -- salted hash of the email (masking: hash)
        customers.phone,
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

{{ select_masked('final') }}
