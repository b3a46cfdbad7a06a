{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="customer_id in ({{ customers_staged_on_processed_days() }})",
        on_schema_change='fail',
        indexes=[{'columns': ['_ds']}],
        dist='customer_id',
        sort=['customer_id'],
    )
}}
-- depends_on: {{ source('pii_keys', 'hash_key') }}
-- One row per shop customer, PII masked: the columns and their PII classes are declared in
-- _core__models.yml and select_masked() applies the masking (doc pii_masking); email_hash is
-- keyed with the PII hash key, which hash_pii reads from the warehouse (the line above).
-- Incremental (doc incremental_lineage): a run rebuilds the customers staged from its days.
with

customers as (

    select * from {{ ref('stg_shop__customers') }}
    {%- if is_incremental() %}
    where customer_id in ({{ customers_staged_on_processed_days() }})
    {%- endif %}

),

addresses as (

    select * from {{ ref('int_customer_addresses_flattened') }}
    {%- if is_incremental() %}
    where customer_id in ({{ customers_staged_on_processed_days() }})
    {%- endif %}

),

final as (

    select
        customers.customer_id,
        customers.first_name,
        customers.last_name,
        customers.email,
        customers.email as email_hash,  -- keyed hash of the email (masking: hash)
        customers.phone,
        addresses.city,
        addresses.state,
        addresses.postal_code,
        addresses.country,
        addresses.address_status,
        customers.created_at as signed_up_at,
        customers.updated_at,
        customers._ds

    from customers
    left join addresses
        on customers.customer_id = addresses.customer_id

)

{{ select_masked('final') }}
