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
-- depends_on: {{ ref('stg_shop__customers') }}
-- One row per customer in clear text, address flattened: for the few who need contact
-- details (PII readers only; restricted `pii` schema). Never referenced by marts or reports.
-- The same rows as dim_customers, unmasked (int_customer_addresses_flattened).
-- Incremental (doc incremental_lineage): a run rebuilds the customers staged from its days
-- (read from stg_shop__customers: the line above).
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
        phone,
        street,
        unit,
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

select * from final
