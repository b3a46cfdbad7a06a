-- depends_on: {{ ref('dim_customers') }}
-- depends_on: {{ ref('dim_products') }}
-- depends_on: {{ ref('fct_orders') }}
-- depends_on: {{ ref('fct_sales') }}
-- depends_on: {{ ref('fct_interactions') }}
-- depends_on: {{ ref('fct_user_product_interactions') }}
-- depends_on: {{ ref('interaction_data') }}
-- depends_on: {{ ref('rpt_daily_sales') }}
-- depends_on: {{ ref('rpt_product_performance') }}
-- depends_on: {{ ref('rpt_marketing_funnel') }}
-- depends_on: {{ ref('rpt_customer_lifetime_value') }}
-- Every mart and report: a column declaring a PII class is selected through select_masked()
-- and holds only values of its policy's masked shape; a column named like PII declares its
-- class (doc pii_masking). One row per problem. The depends_on lines above must name every
-- mart and report (a row says so when one is missing).
{%- set problems, value_checks = pii_masking_checks(model) if execute else ([], []) %}

select
    cast(null as {{ dbt.type_string() }}) as model_name,
    cast(null as {{ dbt.type_string() }}) as column_name,
    cast(null as {{ dbt.type_string() }}) as problem,
    cast(0 as bigint) as failing_rows
where 1 = 0
{%- for model_name, column_name, problem in problems %}

union all

select
    '{{ model_name }}' as model_name,
    '{{ column_name }}' as column_name,
    '{{ problem }}' as problem,
    cast(0 as bigint) as failing_rows
{%- endfor %}
{%- for model_name, column_name, policy, predicate in value_checks %}

union all

select
    '{{ model_name }}' as model_name,
    '{{ column_name }}' as column_name,
    'values not masked by policy {{ policy }}' as problem,
    count(*) as failing_rows
from {{ ref(model_name) }} as masked_rows
where {{ predicate }} and not {{ is_masked_by_policy("masked_rows." ~ column_name, policy) }}
having count(*) > 0
{%- endfor %}
