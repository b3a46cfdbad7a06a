{#-
    Which keys a run recomputes (doc incremental_lineage). A keyed model recomputes every key
    whose inputs have a version delivered on a processed day, as its inputs show them now (the
    versions the days delivered) and as the model itself recorded them (its rows' lineage,
    `_first_ds`..`_last_ds`: the delivery days of the versions a row was built from). The second
    part catches what the days no longer hold (a day reloaded without a row). Each part is read
    through an index on `_ds`, the key or `_last_ds`, so the cost follows the days processed.
-#}

{#- Orders whose version or one of whose lines (any version of it) came from a processed day. -#}
{% macro orders_touched_by_processed_days() -%}
    select versions.order_id
    from {{ ref('base_shop__orders') }} as versions
    where {{ in_processing_days('versions._ds') }} and versions.order_id is not null

    union

    select line_versions.order_id
    from {{ ref('base_shop__sales') }} as line_versions
    where
        line_versions.order_id is not null
        and line_versions.sale_id in (
            select delivered.sale_id
            from {{ ref('base_shop__sales') }} as delivered
            where {{ in_processing_days('delivered._ds') }}
        )

    union

    select recorded.order_id
    from {{ this }} as recorded
    where {{ lineage_in_processing_days('recorded._first_ds', 'recorded._last_ds') }}
{%- endmacro %}


{#-
    Sale lines whose version came from a processed day, whose order was recomputed for one
    (`int_orders_joined_to_sales` rows with lineage on the processed days), or that this model
    built from such versions before.
-#}
{% macro sales_touched_by_processed_days() -%}
    select versions.sale_id
    from {{ ref('base_shop__sales') }} as versions
    where {{ in_processing_days('versions._ds') }} and versions.sale_id is not null

    union

    select lines.sale_id
    from {{ ref('stg_shop__sales') }} as lines
    where lines.order_id in (
        select orders.order_id
        from {{ ref('int_orders_joined_to_sales') }} as orders
        where {{ lineage_in_processing_days('orders._first_ds', 'orders._last_ds') }}
    )

    union

    select recorded.sale_id
    from {{ this }} as recorded
    where {{ lineage_in_processing_days('recorded._first_ds', 'recorded._last_ds') }}
{%- endmacro %}


{#-
    Customers with an order that a processed day touched: as `orders` (a model with
    `customer_id` and lineage) shows them now, and as this model (keyed by `order_id`, with
    `customer_id`) recorded those orders and its own rows built from the processed days.
-#}
{% macro customers_touched_by_processed_days(orders) -%}
    select changed.customer_id
    from {{ orders }} as changed
    where {{ lineage_in_processing_days('changed._first_ds', 'changed._last_ds') }}

    union

    select recorded.customer_id
    from {{ this }} as recorded
    where
        {{ lineage_in_processing_days('recorded._first_ds', 'recorded._last_ds') }}
        or recorded.order_id in (
            select changed.order_id
            from {{ orders }} as changed
            where {{ lineage_in_processing_days('changed._first_ds', 'changed._last_ds') }}
        )
{%- endmacro %}


{#- Customers whose orders (fct_orders) a processed day touched, now or before. -#}
{% macro customer_summaries_touched_by_processed_days() -%}
    select changed.customer_id
    from {{ ref('fct_orders') }} as changed
    where {{ lineage_in_processing_days('changed._first_ds', 'changed._last_ds') }}

    union

    select recorded.customer_id
    from {{ this }} as recorded
    where {{ lineage_in_processing_days('recorded._first_ds', 'recorded._last_ds') }}
{%- endmacro %}


{#-
    Products of the sale lines a processed day touched: the lines recomputed for it (fct_sales
    lineage) and every version of a line delivered on it (a line that changed product).
-#}
{% macro products_touched_by_processed_days() -%}
    select changed.product_id
    from {{ ref('fct_sales') }} as changed
    where {{ lineage_in_processing_days('changed._first_ds', 'changed._last_ds') }}

    union

    select line_versions.product_id
    from {{ ref('base_shop__sales') }} as line_versions
    where
        line_versions.product_id is not null
        and line_versions.sale_id in (
            select delivered.sale_id
            from {{ ref('base_shop__sales') }} as delivered
            where {{ in_processing_days('delivered._ds') }}
        )
{%- endmacro %}


{#- Customers whose staged version came from a processed day, now or (this model) before. -#}
{% macro customers_staged_on_processed_days() -%}
    select staged.customer_id
    from {{ ref('stg_shop__customers') }} as staged
    where {{ in_processing_days('staged._ds') }}

    union

    select recorded.customer_id
    from {{ this }} as recorded
    where {{ in_processing_days('recorded._ds') }}
{%- endmacro %}


{#-
    Order days (UTC) to recount: the days of the orders a processed day touched (fct_orders
    lineage), every order day of the customers whose first revenue order may have moved (their
    summaries were recomputed), and the days this model built from the processed days before.
-#}
{% macro order_dates_touched_by_processed_days() -%}
    select changed.order_date
    from {{ ref('fct_orders') }} as changed
    where {{ lineage_in_processing_days('changed._first_ds', 'changed._last_ds') }}

    union

    select customer_orders.order_date
    from {{ ref('fct_orders') }} as customer_orders
    where customer_orders.customer_id in (
        select summaries.customer_id
        from {{ ref('int_customer_orders_summarized') }} as summaries
        where {{ lineage_in_processing_days('summaries._first_ds', 'summaries._last_ds') }}
    )

    union

    select recorded.order_date
    from {{ this }} as recorded
    where {{ lineage_in_processing_days('recorded._first_ds', 'recorded._last_ds') }}
{%- endmacro %}


{#-
    Funnel days (UTC) to recount: the days the processed deliveries hold interactions for (or
    held, before a reload), the order days the processed days touched, and the days this model
    built from the processed days before.
-#}
{% macro funnel_dates_touched_by_processed_days() -%}
    select delivered.interaction_date
    from {{ ref('int_user_interactions_daily') }} as delivered
    where {{ in_processing_days('delivered._ds') }}

    union

    select changed.order_date
    from {{ ref('fct_orders') }} as changed
    where {{ lineage_in_processing_days('changed._first_ds', 'changed._last_ds') }}

    union

    select recorded.funnel_date
    from {{ this }} as recorded
    where {{ lineage_in_processing_days('recorded._first_ds', 'recorded._last_ds') }}
{%- endmacro %}

