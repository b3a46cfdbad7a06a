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
-- depends_on: {{ ref('stg_shop__customers') }}
-- One row per shop customer, PII masked: the columns and their PII classes are declared in
-- _core__models.yml and select_masked() applies the masking (doc pii_masking); email_hash is
-- keyed with the PII hash key, which hash_pii reads from the warehouse (the first line above).
-- The customers with their flattened address are int_customer_addresses_flattened, which
-- pii_customers selects too. Incremental (doc incremental_lineage): a run rebuilds the
-- customers staged from its days (read from stg_shop__customers: the second line).
with

customers as (

    select * from {{ ref('int_customer_addresses_flattened') }}
    {%- if is_incremental() %}
    where customer_id in ({{ customers_staged_on_processed_days() }})
    {%- endif %}

),

final as (

    select
        customer_id,
        first_name,
        last_name,
        email,
        email as email_hash,  -- keyed hash of the email (masking: hash)
        phone,
        city,
        state,
        postal_code,
        country,
        address_status,
        created_at as signed_up_at,
        updated_at,
        _ds

    from customers

)

{{ select_masked('final') }}
