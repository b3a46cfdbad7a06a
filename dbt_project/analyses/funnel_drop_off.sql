-- Where users leave the funnel, per day: how many users reach each step and how many of the
-- previous step's users do not (doc funnel_steps).
with

funnel as (

    select * from {{ ref('rpt_marketing_funnel') }}

),

steps as (

    select
        funnel_date,
        1 as step_number,
        'view' as step_name,
        viewers as step_users,
        cast(null as integer) as previous_step_users
    from funnel

    union all

    select
        funnel_date,
        2 as step_number,
        'click' as step_name,
        clickers as step_users,
        viewers as previous_step_users
    from funnel

    union all

    select
        funnel_date,
        3 as step_number,
        'add_to_cart' as step_name,
        cart_users as step_users,
        clickers as previous_step_users
    from funnel

    union all

    select
        funnel_date,
        4 as step_number,
        'purchase' as step_name,
        purchasers as step_users,
        cart_users as previous_step_users
    from funnel

),

final as (

    select
        funnel_date,
        step_number,
        step_name,
        step_users,
        previous_step_users - step_users as dropped_users,
        round(
            100.0 * (previous_step_users - step_users) / nullif(previous_step_users, 0), 1
        ) as drop_off_percent

    from steps

)

select * from final
order by funnel_date, step_number
