-- The first version's retrieval query: how a user interacted with a product, and how many
-- interactions each day's delivery held for the pair. Reads through the (user_id, product_id,
-- _ds) index (doc interaction_data).
-- `dbt compile --select interaction_data_for_pair --vars '{user_id: 42, product_id: 7}'`
select
    interaction_id,
    action,
    "timestamp",
    interaction_count

from {{ ref('interaction_data') }}
where
    user_id = {{ var('user_id', 1) | int }}
    and product_id = {{ var('product_id', 1) | int }}
order by "timestamp", interaction_id
