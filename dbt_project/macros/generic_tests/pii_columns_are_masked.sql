{#-
    On every mart and report (doc pii_masking): a column declaring a PII class is selected
    through select_masked() and holds only values of its policy's masked shape; a column named
    like PII declares its class; every mart and report carries this test. One row per problem.
-#}
{% test pii_columns_are_masked(model) %}
{%- set problems, value_checks = pii_masking_checks(attached_model_node(model)) if execute else ([], []) %}

{{ pii_problem_rows(problems, 'failing_rows') }}
{%- for model_name, column_name, policy, predicate in value_checks %}

union all

select
    '{{ model_name }}' as model_name,
    '{{ column_name }}' as column_name,
    'values not masked by policy {{ policy }}' as problem,
    count(*) as failing_rows
from {{ model }} as masked_rows
where {{ predicate }} and not {{ is_masked_by_policy("masked_rows." ~ column_name, policy) }}
having count(*) > 0
{%- endfor %}

{% endtest %}
