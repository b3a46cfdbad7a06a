{#-
    What the PII tests check, read from the project graph (doc pii_masking). Both return plain
    lists so the singular tests in tests/pii/ stay short SQL.
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


{#-
    For assert_pii_columns_are_masked: ([(model, column, problem)], [(model, column, policy)]).
    Problems: a mart or report missing from the test's depends_on lines (it would run before
    the model is built), a column declaring PII in a model that does not end with
    select_masked(), a column masked by hash in a model without the `-- depends_on:` line of
    the PII hash key source, a column named like PII that declares no class. Value checks:
    every declared column, with the policy its values must show.
-#}
{% macro pii_masking_checks(test_node) -%}
    {%- set problems = [] -%}
    {%- set value_checks = [] -%}
    {%- set pii_name = '(^|_)(first_name|last_name|full_name|email|phone|mobile|street|address|unit|postal_code|zip_code|birth_date|date_of_birth|ip_address)$' -%}
    {%- for node in masked_layer_models() -%}
        {%- if node.unique_id not in test_node.depends_on.nodes -%}
            {%- do problems.append((node.name, '', 'not listed in the depends_on lines of the test')) -%}
        {%- endif -%}
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
    {%- endfor -%}
    {{ return([problems, value_checks]) }}
{%- endmacro %}


{#-
    For assert_no_clear_text_pii_in_marts: ([(relation, column, predicate)] holding clear-text
    PII — the declared columns of the sources (their processed days' rows) and of the
    intermediate and pii models (every current customer) — and [(model, relation, column,
    predicate)] to scan — every text column of every mart and report, as the warehouse has it,
    or as declared when compiling offline, over the rows the run wrote).
-#}
{% macro pii_leak_scan_targets() -%}
    {%- set clear_text = [] -%}
    {%- set scanned = [] -%}
    {%- for source_node in graph.sources.values() if source_node.package_name == project_name -%}
        {%- for name, column in source_node.columns.items() if column_meta(column).get('pii') -%}
            {%- do clear_text.append((source(source_node.source_name, source_node.name), name, rows_written_by_run(source_node, 'clear_text'))) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name and node.fqn[1] in ('intermediate', 'pii') -%}
        {%- for name, column in node.columns.items() if column_meta(column).get('pii') -%}
            {%- do clear_text.append((ref(node.name), name, '(1 = 1)')) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set masked_ids = masked_layer_models() | map(attribute='unique_id') | list -%}
    {%- for node in masked_layer_models() -%}
        {%- set relation = ref(node.name) -%}
        {#- a view that only reads scanned marts and reports shows their rows: already scanned -#}
        {%- set parents = node.depends_on.nodes -%}
        {%- set shows_scanned_rows_only = node.config.materialized == 'view' and parents
              and parents | reject('in', masked_ids) | list | length == 0 -%}
        {%- if shows_scanned_rows_only -%}
        {%- elif var('offline_compile', none) is none -%}
            {%- for column in adapter.get_columns_in_relation(relation) if column.is_string() -%}
                {%- do scanned.append((node.name, relation, column.name, rows_written_by_run(node, 'scanned')
                    ~ pii_free_values_excluded(node, column.name, 'scanned'))) -%}
            {%- endfor -%}
        {%- else -%}
            {%- for name, column in node.columns.items()
                if (column.data_type or '') | lower in ('text', 'varchar', 'character varying', 'string') -%}
                {%- do scanned.append((node.name, relation, name, rows_written_by_run(node, 'scanned')
                    ~ pii_free_values_excluded(node, name, 'scanned'))) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return([clear_text, scanned]) }}
{%- endmacro %}
