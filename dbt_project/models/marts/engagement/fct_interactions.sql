{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='interaction_id',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['interaction_id'], 'unique': true},
            {'columns': ['_ds']},
            {'columns': ['user_id', 'product_id']},
        ],
        dist='user_id',
        sort=['_ds', 'interaction_date'],
        post_hook=["{{ delete_rows_no_longer_staged('interaction_id', ref('stg_interactions__user_interactions')) }}"],
    )
}}
-- Each clean interaction, with how many interactions its user had with its product.
-- Incremental by day (doc processing_days, incremental_interactions): a run writes the
-- interactions of the days processed and refreshes the count on every interaction of the
-- (user, product) pairs those days touch.
with

interactions as (

    select * from {{ ref('stg_interactions__user_interactions') }}

),

pair_counts as (

    select * from {{ ref('int_user_product_interactions_aggregated') }}

),

{% if is_incremental() %}
pairs_to_refresh as (

    select
        user_id,
        product_id
    from interactions
    where {{ in_processing_days('_ds') }}

    union

    select
        user_id,
        product_id
    from {{ this }}
    where {{ in_processing_days('_ds') }}

),
{% endif %}

final as (

    select
        interactions.interaction_id,
        interactions.user_id,
        interactions.product_id,
        interactions.action,
        interactions.interacted_at,
        cast(interactions.interacted_at as date) as interaction_date,
        pair_counts.interaction_count,
        interactions._ds,
        interactions._load_id

    from interactions
    inner join pair_counts
        on
            interactions.user_id = pair_counts.user_id
            and interactions.product_id = pair_counts.product_id
    {% if is_incremental() %}
    inner join pairs_to_refresh
        on
            interactions.user_id = pairs_to_refresh.user_id
            and interactions.product_id = pairs_to_refresh.product_id
    {% endif %}

)

select * from final
