{{ config(materialized='view') }}
-- Each clean interaction, with how many interactions its user had with its product in the
-- same day's delivery (doc interaction_count). A view (doc fct_interactions_storage): the rows
-- are stored once, in the staging model, written by day. One select, without CTEs, so that
-- PostgreSQL merges it into each query: a filter on any column reaches the staging model's
-- indexes, the count is a lookup of the row's pair and day in one of them, and a query that
-- does not select `interaction_count` does not count at all.
select
    interactions.interaction_id,
    interactions.user_id,
    interactions.product_id,
    interactions.action,
    interactions.interacted_at,
    cast(interactions.interacted_at as date) as interaction_date,
    (
        select count(*) as pair_interactions
        from {{ ref('stg_interactions__user_interactions') }} as same_pair
        where
            same_pair.user_id = interactions.user_id
            and same_pair.product_id = interactions.product_id
            and same_pair._ds = interactions._ds
    ) as interaction_count,
    interactions._ds,
    interactions._load_id

from {{ ref('stg_interactions__user_interactions') }} as interactions
