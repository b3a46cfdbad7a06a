{#-
    The PII hash key must be in the warehouse before anything is hashed with it (macro
    hash_pii, doc `pii_masking`): one row in source `pii_keys.hash_key`. On prod, on any
    Redshift target, or with var `pii_require_secret_key`, the public development key and keys
    under 16 characters are refused too. Only the public development key's value is written
    into this SQL, to compare with; the installed key is never read out.

    `dbt run-operation check_pii_hash_key` runs the check alone; every run or build that builds
    a model hashing PII runs it first (on-run-start, check_pii_hash_key_before_run).
-#}
{% macro check_pii_hash_key() -%}
    {%- set public_key = 'local-dev-pii-key-not-a-secret' -%}
    {%- set strict = target.name == 'prod' or target.type == 'redshift' or var('pii_require_secret_key', false) -%}
    {%- set key_table = source('pii_keys', 'hash_key') -%}
    {%- set install = "install one with `PII_HASH_KEY=<secret> python -m loaders pii-key` (a long random secret"
        ~ " from your secret store, e.g. `openssl rand -hex 32`; `make up` installs the public development key"
        ~ " on the local stack)" -%}
    {%- set found = adapter.get_relation(
        database=key_table.database, schema=key_table.schema, identifier=key_table.identifier) -%}
    {%- if found is none -%}
        {{ exceptions.raise_compiler_error(
            "no PII hash key in the warehouse: " ~ key_table ~ " does not exist; " ~ install) }}
    {%- endif -%}
    {%- set result = run_query(
        "select count(*) as keys,"
        ~ " coalesce(sum(case when hash_key = '" ~ public_key ~ "' then 1 else 0 end), 0) as public_keys,"
        ~ " coalesce(min(length(hash_key)), 0) as shortest"
        ~ " from " ~ key_table) -%}
    {%- set keys, public_keys, shortest = result.rows[0][0] | int, result.rows[0][1] | int, result.rows[0][2] | int -%}
    {%- if keys == 0 -%}
        {{ exceptions.raise_compiler_error("no PII hash key in the warehouse: " ~ key_table ~ " is empty; " ~ install) }}
    {%- elif keys > 1 -%}
        {{ exceptions.raise_compiler_error(
            key_table ~ " holds " ~ keys ~ " PII hash keys, not one: reinstall the key with"
            ~ " `PII_HASH_KEY=<secret> python -m loaders pii-key --replace`") }}
    {%- elif strict and (public_keys > 0 or shortest < 16) -%}
        {{ exceptions.raise_compiler_error(
            "the PII hash key in " ~ key_table ~ " is "
            ~ ("the public development key" if public_keys > 0 else "shorter than 16 characters")
            ~ ", refused for target " ~ target.name ~ ": set PII_HASH_KEY to a long random secret from your"
            ~ " secret store (e.g. `openssl rand -hex 32`) and install it with"
            ~ " `python -m loaders pii-key --replace`, then rebuild the models that hash with --full-refresh") }}
    {%- endif -%}
{%- endmacro %}


{#- on-run-start: check the key when the run builds a model that hashes PII. -#}
{% macro check_pii_hash_key_before_run() -%}
    {%- if execute and flags.WHICH in ('run', 'build', 'retry') and var('offline_compile', none) is none -%}
        {%- set hashing = models_hashing_pii() | map(attribute='unique_id') | select('in', selected_resources) | list -%}
        {%- if hashing -%}
            {%- do check_pii_hash_key() -%}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#- The project's models with a column masked by policy hash. -#}
{% macro models_hashing_pii() -%}
    {%- set models = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.package_name == project_name -%}
        {%- for column in node.columns.values() -%}
            {%- set meta = column_meta(column) -%}
            {%- if meta.get('pii') and pii_masking_policy(meta.get('pii'), meta.get('masking')) == 'hash'
                  and node not in models -%}
                {%- do models.append(node) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(models) }}
{%- endmacro %}
