-- interaction_count on each interaction equals a fresh count of its user and product's rows.
with

recount as (
    select
        user_id,
        product_id,
        count(*) as interaction_count
    from {{ ref('fct_interactions') }}
    group by user_id, product_id
)

select
    fct_interactions.interaction_id,
    fct_interactions.interaction_count,
    recount.interaction_count as recounted

from {{ ref('fct_interactions') }} as fct_interactions
inner join recount
    on
        fct_interactions.user_id = recount.user_id
        and fct_interactions.product_id = recount.product_id
where fct_interactions.interaction_count <> recount.interaction_count
