-- Counts customers whose stored address is malformed JSON (their address fields are null).
-- A few are expected (a legacy import truncated some); warns above 2 % of customers.
{{ config(severity='warn') }}

with

addresses as (
    select * from {{ ref('int_customer_addresses_flattened') }}
),

counted as (
    select
        sum(case when address_is_malformed then 1 else 0 end) as malformed_addresses,
        count(*) as customers
    from addresses
)

select
    malformed_addresses,
    customers
from counted
where malformed_addresses > 0.02 * customers
