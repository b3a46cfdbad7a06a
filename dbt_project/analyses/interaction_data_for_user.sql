-- The first version's retrieval query: a user's interactions, newest first, each with its
-- pair's count in that day's delivery. Reads through the (user_id, product_id, _ds) index of
-- the staging model under interaction_data (doc interaction_data).
-- `dbt compile --select interaction_data_for_user --vars '{user_id: 42}'`
select
    interaction_id,
    user_id,
    product_id,
    action,
    "timestamp",
    interaction_count

from {{ ref('interaction_data') }}
where user_id = {{ var('user_id', 1) | int }}
order by "timestamp" desc, interaction_id desc
