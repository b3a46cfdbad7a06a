{#- The order statuses whose sales count as revenue (var `revenue_order_statuses`), as a SQL
    list: `('placed', 'shipped', 'delivered')`. Doc `revenue_definition`. -#}
{% macro revenue_order_statuses() -%}
    {{ sql_string_list(var('revenue_order_statuses')) }}
{%- endmacro %}


{#- numerator / denominator, null when the denominator is 0 or null, as numeric(p, s). -#}
{% macro safe_ratio(numerator, denominator, precision=12, scale=4) -%}
    cast(
        case
            when {{ denominator }} <> 0
                then round(cast({{ numerator }} as numeric(18, 6)) / {{ denominator }}, {{ scale }})
        end
        as numeric({{ precision }}, {{ scale }})
    )
{%- endmacro %}
