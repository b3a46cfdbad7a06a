-- Customers worth winning back: no revenue order for more than `at_risk_after_days` days
-- (var), most valuable first. Masked identity only (dim_customers); ids for the CRM export.
with

lifetime_value as (

    select * from {{ ref('rpt_customer_lifetime_value') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

final as (

    select
        lifetime_value.customer_id,
        customers.email_hash,
        customers.first_name,
        customers.country,
        lifetime_value.orders,
        lifetime_value.revenue,
        lifetime_value.last_order_at,
        lifetime_value.days_since_last_order,
        lifetime_value.predicted_clv

    from lifetime_value
    inner join customers
        on lifetime_value.customer_id = customers.customer_id
    where lifetime_value.lifecycle_stage = 'at_risk'

)

select * from final
order by predicted_clv desc, customer_id asc
