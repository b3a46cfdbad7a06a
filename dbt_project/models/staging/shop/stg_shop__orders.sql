{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="{{ versions_touched_by_processed_days(ref('base_shop__orders'), 'order_id') }}",
        on_schema_change='fail',
        indexes=[
            {'columns': ['order_id'], 'unique': true},
            {'columns': ['_ds']},
        ],
        dist='order_id',
        sort=['order_id'],
    )
}}
-- One row per order: the latest valid version, typed and cleaned.
-- Rules: doc shop_cleaning_rules, shop_versioning_rule.
-- Incremental (doc incremental_staging): a run resolves again only the keys its days touched.
-- The columns are those _shop__models.yml declares.
{{ select_current_versions(ref('base_shop__orders'), 'order_id') }}
