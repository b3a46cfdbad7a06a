{#-
    What the PII tests check, read from the project graph (doc pii_masking). They return plain
    lists so the generic tests pii_columns_are_masked and no_clear_text_pii stay short SQL.
-#}

{#- Marts and reports: the models analysts can read. -#}
{% macro masked_layer_models() -%}
    {%- set models = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name and node.fqn[1] in ('marts', 'reports') -%}
        {%- do models.append(node) -%}
    {%- endfor -%}
    {{ return(models) }}
{%- endmacro %}


{#-
    The rows of a node a run wrote, as a predicate (doc scoped_tests): its processed days
    (`_ds`) or its rows built from them (`_first_ds`/`_last_ds`); every row for a node rebuilt
    whole on every run. `alias` qualifies the columns.
-#}
{% macro rows_written_by_run(node, alias) -%}
    {%- set columns = node.columns.keys() | list -%}
    {%- if '_first_ds' in columns and '_last_ds' in columns -%}
        {{ return(lineage_in_processing_days(alias ~ '._first_ds', alias ~ '._last_ds')) }}
    {%- elif '_ds' in columns -%}
        {{ return(in_processing_days(alias ~ '._ds')) }}
    {%- else -%}
        {{ return('(1 = 1)') }}
    {%- endif -%}
{%- endmacro %}


{#-
    A scanned column may declare `meta: {pii_free_values: <macro>}`, a macro returning the fixed
    words of the project it holds (e.g. known_interaction_actions): those values are not
    scanned, so the scan reads only the rows with another value (an index may hold just those).
-#}
{% macro pii_free_values_excluded(node, column_name, alias) -%}
    {%- set column = node.columns.get(column_name) or node.columns.get(column_name | lower) -%}
    {%- set macro_name = column_meta(column).get('pii_free_values') if column else none -%}
    {%- if macro_name -%}
        {{ return(' and ' ~ alias ~ '.' ~ adapter.quote(column_name) ~ ' not in ' ~ sql_string_list(context[macro_name]())) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{% macro column_meta(column) -%}
    {{ return((column.get('config') or {}).get('meta') or column.get('meta') or {}) }}
{%- endmacro %}


{#- The project's model node a generic test is attached to, from the relation it was given. -#}
{% macro attached_model_node(relation) -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name
        and (node.alias or node.name) == relation.identifier and node.schema == relation.schema -%}
        {{ return(node) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("no model of this project is " ~ relation) }}
{%- endmacro %}


{#- The test node of generic test `test_name` attached to `node` (none when it has none). -#}
{% macro attached_test_node(node, test_name) -%}
    {%- for test in graph.nodes.values()
        if test.resource_type == 'test' and test.attached_node == node.unique_id
        and (test.test_metadata or {}).get('name') == test_name -%}
        {{ return(test) }}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}


{#- [(model, '', problem)] for every mart and report without generic test `test_name`: every
    model analysts can read carries both PII tests. -#}
{% macro masked_models_missing_test(test_name) -%}
    {%- set problems = [] -%}
    {%- for node in masked_layer_models() if attached_test_node(node, test_name) is none -%}
        {%- do problems.append((node.name, '', 'has no ' ~ test_name ~ ' test in its YAML (data_tests)')) -%}
    {%- endfor -%}
    {{ return(problems) }}
{%- endmacro %}


{#-
    For the generic test pii_columns_are_masked on `node` (a mart or report):
    ([(model, column, problem)], [(model, column, policy, predicate)]). Problems: a column
    declaring PII in a model that does not end with select_masked(), a column masked by hash
    in a model without the `-- depends_on:` line of the PII hash key source, a column named
    like PII that declares no class, and any mart or report without this test. Value checks:
    every declared column, with the policy its values must show, over the rows the run wrote.
-#}
{% macro pii_masking_checks(node) -%}
    {%- set problems = masked_models_missing_test('pii_columns_are_masked') -%}
    {%- set value_checks = [] -%}
    {%- set pii_name = '(^|_)(first_name|last_name|full_name|email|phone|mobile|street|address|unit|postal_code|zip_code|birth_date|date_of_birth|ip_address)$' -%}
    {%- for name, column in node.columns.items() -%}
        {%- set meta = column_meta(column) -%}
        {%- if meta.get('pii') -%}
            {%- if 'select_masked(' not in node.raw_code -%}
                {%- do problems.append((node.name, name, 'declares PII but the model does not end with select_masked()')) -%}
            {%- endif -%}
            {%- if pii_masking_policy(meta.get('pii'), meta.get('masking')) == 'hash'
                  and 'source.' ~ project_name ~ '.pii_keys.hash_key' not in node.depends_on.nodes -%}
                {%- do problems.append((node.name, name, 'masked by hash but the model lacks the line -- depends_on: source(pii_keys, hash_key)')) -%}
            {%- endif -%}
            {%- do value_checks.append((node.name, name, pii_masking_policy(meta.get('pii'), meta.get('masking')), rows_written_by_run(node, 'masked_rows'))) -%}
        {%- elif modules.re.search(pii_name, name) -%}
            {%- do problems.append((node.name, name, 'named like PII but declares no meta.pii')) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return([problems, value_checks]) }}
{%- endmacro %}


{#- The models holding clear-text PII the leak scan looks for (intermediate and pii models
    with a column declaring meta.pii). -#}
{% macro clear_text_models() -%}
    {%- set models = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name and node.fqn[1] in ('intermediate', 'pii') -%}
        {%- for column in node.columns.values() if column_meta(column).get('pii') and node not in models -%}
            {%- do models.append(node) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(models) }}
{%- endmacro %}


{#-
    For the generic test no_clear_text_pii on `node` (a mart or report): ([(relation, column,
    predicate)] holding clear-text PII — the declared columns of the sources (their processed
    days' rows) and of the intermediate and pii models (every current customer) —, [(relation,
    column, predicate)] to scan — every text column of `node`, as the warehouse has it, or as
    declared when compiling offline, over the rows the run wrote — and [(model, column,
    problem)]: a clear-text model the test does not depend on (it could run before that model
    is built: add it to the test's `-- depends_on:` lines), any mart or report without this
    test). A view that only reads marts and reports shows rows already scanned there: nothing
    to scan.
-#}
{% macro pii_leak_scan_targets(node) -%}
    {%- set clear_text = [] -%}
    {%- set scanned = [] -%}
    {%- set problems = masked_models_missing_test('no_clear_text_pii') -%}
    {%- set test_node = attached_test_node(node, 'no_clear_text_pii') -%}
    {%- for source_node in graph.sources.values() if source_node.package_name == project_name -%}
        {%- for name, column in source_node.columns.items() if column_meta(column).get('pii') -%}
            {%- do clear_text.append((source(source_node.source_name, source_node.name), name, rows_written_by_run(source_node, 'clear_text'))) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for clear_node in clear_text_models() -%}
        {%- if test_node is none or clear_node.unique_id not in test_node.depends_on.nodes -%}
            {%- do problems.append((clear_node.name, '', 'holds clear-text PII but no_clear_text_pii does not depend on it (its -- depends_on: lines)')) -%}
        {%- endif -%}
        {%- for name, column in clear_node.columns.items() if column_meta(column).get('pii') -%}
            {%- do clear_text.append((ref(clear_node.name), name, '(1 = 1)')) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set masked_ids = masked_layer_models() | map(attribute='unique_id') | list -%}
    {%- set relation = ref(node.name) -%}
    {%- set parents = node.depends_on.nodes -%}
    {%- set shows_scanned_rows_only = node.config.materialized == 'view' and parents
          and parents | reject('in', masked_ids) | list | length == 0 -%}
    {%- if shows_scanned_rows_only -%}
    {%- elif var('offline_compile', none) is none -%}
        {%- for column in adapter.get_columns_in_relation(relation) if column.is_string() -%}
            {%- do scanned.append((relation, column.name, rows_written_by_run(node, 'scanned')
                ~ pii_free_values_excluded(node, column.name, 'scanned'))) -%}
        {%- endfor -%}
    {%- else -%}
        {%- for name, column in node.columns.items()
            if (column.data_type or '') | lower in ('text', 'varchar', 'character varying', 'string') -%}
            {%- do scanned.append((relation, name, rows_written_by_run(node, 'scanned')
                ~ pii_free_values_excluded(node, name, 'scanned'))) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return([clear_text, scanned, problems]) }}
{%- endmacro %}


{#- The first rows of a PII test: a typed empty row, then one row per declared problem
    (model, column, problem); `count_column` names the column the value checks count in. -#}
{% macro pii_problem_rows(problems, count_column) -%}
select
    cast(null as {{ dbt.type_string() }}) as model_name,
    cast(null as {{ dbt.type_string() }}) as column_name,
    cast(null as {{ dbt.type_string() }}) as problem,
    cast(0 as bigint) as {{ count_column }}
where 1 = 0
{%- for model_name, column_name, problem in problems %}

union all

select
    '{{ model_name }}' as model_name,
    '{{ column_name }}' as column_name,
    '{{ problem }}' as problem,
    cast(0 as bigint) as {{ count_column }}
{%- endfor %}
{%- endmacro %}
