{{
    config(
        materialized='incremental',
        incremental_strategy='replace',
        replace_where="{{ versions_touched_by_processed_days(ref('base_shop__sales'), 'sale_id') }}",
        on_schema_change='fail',
        indexes=[
            {'columns': ['sale_id'], 'unique': true},
            {'columns': ['_ds']},
            {'columns': ['order_id']},
        ],
        dist='sale_id',
        sort=['sale_id'],
    )
}}
-- One row per sale line: the latest valid version, typed and cleaned.
-- Rules: doc shop_cleaning_rules, shop_versioning_rule.
-- Incremental (doc incremental_staging): a run resolves again only the keys its days touched.
{{
    select_current_versions(
        ref('base_shop__sales'),
        'sale_id',
        [
            'sale_id', 'order_id', 'product_id', 'quantity', 'unit_price', 'discount', 'sold_at',
            'updated_at'
        ],
    )
}}
