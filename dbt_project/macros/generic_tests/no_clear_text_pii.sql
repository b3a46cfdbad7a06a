{#-
    The PII leak scan, on every mart and report (doc pii_masking): every value of every
    clear-text PII column (declared with meta.pii in the sources and in the intermediate and
    pii models) is looked for, trimmed and lower-cased, in every text column of the model,
    whatever its name or declaration. One row per column where any is found. Covers the rows
    the run wrote (doc scoped_tests): the processed days' rows of day- and lineage-tracked
    models, every row of the models rebuilt whole; every customer currently known, and the
    processed days' raw versions. The lines below make the test wait for the models holding
    clear text (the test reports one it does not wait for).
-#}
{% test no_clear_text_pii(model) %}
-- depends_on: {{ ref('int_customer_addresses_flattened') }}
-- depends_on: {{ ref('pii_customers') }}
{%- set clear_text, scanned, problems = pii_leak_scan_targets(attached_model_node(model)) if execute else ([], [], []) %}

with

clear_text_values as (
    {%- for relation, column_name, predicate in clear_text %}

    select distinct lower(trim(cast(clear_text.{{ column_name }} as {{ dbt.type_string() }}))) as clear_value
    from {{ relation }} as clear_text
    where
        nullif(trim(cast(clear_text.{{ column_name }} as {{ dbt.type_string() }})), '') is not null
        and {{ predicate }}
    {{ 'union' if not loop.last }}
    {%- else %}

    select cast(null as {{ dbt.type_string() }}) as clear_value
    where 1 = 0
    {%- endfor %}

),

leaks as (

    {#- nothing declared as PII: the scan would prove nothing #}
    {{ pii_problem_rows(problems + ([('all', '', 'no column declares PII')] if execute and clear_text | length == 0 else []), 'leaked_values') | indent(4) }}
    {%- for relation, column_name, predicate in scanned %}

    union all

    select
        '{{ relation.identifier }}' as model_name,
        '{{ column_name }}' as column_name,
        'clear-text PII found' as problem,
        count(*) as leaked_values
    from {{ relation }} as scanned
    inner join clear_text_values
        on lower(trim(scanned.{{ adapter.quote(column_name) }})) = clear_text_values.clear_value
    where {{ predicate }}
    having count(*) > 0
    {%- endfor %}

)

select * from leaks

{% endtest %}
