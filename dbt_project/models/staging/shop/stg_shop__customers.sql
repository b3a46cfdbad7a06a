-- One row per customer: the latest valid version, typed and cleaned. Clear-text PII (restricted schema).
-- Rules: doc shop_cleaning_rules, shop_versioning_rule.
with

customers as (

    select * from {{ ref('base_shop__customers') }}

),

final as (

    select
        customer_id,
        first_name,
        last_name,
        email,
        phone,
        address,
        created_at,
        updated_at,
        _ds,
        _source_file,
        _load_id,
        _loaded_at

    from customers
    where row_status = 'current'

)

select * from final
