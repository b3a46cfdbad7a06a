-- The first version's retrieval query: one interaction by its id, with its pair's count that
-- day. Reads through the unique index of the staged ids (doc interaction_data).
-- `dbt compile --select interaction_data_by_id --vars '{interaction_id: 25140010001}'`
select
    interaction_id,
    user_id,
    product_id,
    action,
    "timestamp",
    interaction_count

from {{ ref('interaction_data') }}
where interaction_id = {{ var('interaction_id', 1) | int }}
