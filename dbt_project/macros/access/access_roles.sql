{#-
    Warehouse roles and what each may do (doc `access_model`):

      loader       writes the raw schema (and reads it)
      transformer  reads raw, writes the dbt schemas (staging, intermediate, marts, reports, pii)
      analyst      reads marts and reports only (masked)
      pii_reader   everything an analyst reads, plus the clear-text `pii` schema

    The `pii_keys` schema (the PII hash key, installed by `python -m loaders pii-key`) is read
    by the transformer only: analysts and PII readers cannot see it.

    Roles are group roles without login: people and services log in as their own user and are
    granted a role. `dbt run-operation create_access_roles` (`make roles`) creates the roles,
    schemas and schema privileges idempotently; table privileges come from the `grants`
    configs of the models. Roles are cluster-wide in PostgreSQL, so creating them is safe when
    several databases on one server (or concurrent runs) do it at once.
-#}

{% macro access_roles() -%}
    {%- set roles = {
        'loader': var('loader_role', 'shop_loader'),
        'transformer': var('transformer_role', 'shop_transformer'),
        'analyst': var('analyst_role', 'shop_analyst'),
        'pii_reader': var('pii_reader_role', 'shop_pii_reader'),
    } -%}
    {%- for role in roles.values() -%}
        {%- if not modules.re.match('^[a-z_][a-z0-9_]{0,62}$', role) -%}
            {{ exceptions.raise_compiler_error("role name '" ~ role ~ "' must be lower-case letters, digits and _") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(roles) }}
{%- endmacro %}


{#- Which role may do what in which schema: {schema: {'read': [...], 'write': [...]}} -#}
{% macro schema_access() -%}
    {%- set roles = access_roles() -%}
    {%- set access = {} -%}
    {%- do access.update({env_var('RAW_SCHEMA', 'raw'): {'write': [roles.loader], 'read': [roles.transformer]}}) -%}
    {%- for schema in ['staging', 'intermediate'] -%}
        {%- do access.update({schema: {'write': [roles.transformer], 'read': []}}) -%}
    {%- endfor -%}
    {%- for schema in ['marts', 'reports'] -%}
        {%- do access.update({schema: {'write': [roles.transformer], 'read': [roles.analyst]}}) -%}
    {%- endfor -%}
    {%- do access.update({'pii': {'write': [roles.transformer], 'read': [roles.pii_reader]}}) -%}
    {%- do access.update({key_schema(): {'write': [], 'read': [roles.transformer]}}) -%}
    {{ return(access) }}
{%- endmacro %}


{#- The schema of the PII hash key (source pii_keys). -#}
{% macro key_schema() -%}
    {{ return('pii_keys') }}
{%- endmacro %}


{#- Is role management on for this run? `manage_access_roles`, else on except on Redshift. -#}
{% macro manages_access_roles() -%}
    {%- set manage = var('manage_access_roles', none) -%}
    {%- if manage is none -%}
        {{ return(target.type != 'redshift') }}
    {%- endif -%}
    {{ return(manage | string | lower in ('true', '1', 'yes')) }}
{%- endmacro %}


{#- `dbt run-operation create_access_roles [--args '{dry_run: true}']` -#}
{% macro create_access_roles(dry_run=false) -%}
    {%- set statements = access_statements() -%}
    {%- for statement in statements -%}
        {%- if dry_run -%}
            {{ print(statement ~ ';') }}
        {%- else -%}
            {%- do run_query(statement) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not dry_run -%}
        {#- make the grants durable whatever the connection's transaction mode (a `commit`
            outside a transaction is only a warning) -#}
        {%- do run_query('commit') if target.type == 'redshift' -%}
        {{ log('access roles ' ~ (access_roles().values() | join(', ')) ~ ': created or already present; '
               ~ (statements | length) ~ ' statements applied', info=true) }}
    {%- endif -%}
{%- endmacro %}


{#- on-run-start: make sure the roles the `grants` configs name exist (when managing roles). -#}
{% macro ensure_access_roles() -%}
    {%- if execute and manages_access_roles() -%}
        {{ return(role_statements() | join(';\n')) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#- on-run-end: schema privileges for the schemas this run built. -#}
{% macro grant_schema_access(schemas) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(adapter.dispatch('grant_schema_access')(schemas)) }}
{%- endmacro %}

{% macro default__grant_schema_access(schemas) -%}
    {%- set statements = schema_statements(schemas | list, include_raw=false) -%}
    {{ return(statements | join(';\n')) }}
{%- endmacro %}

{#- Concurrent GRANTs on one schema can fail in PostgreSQL ("tuple concurrently updated"):
    apply them in one transaction under an advisory lock. -#}
{% macro postgres__grant_schema_access(schemas) -%}
    {%- set statements = schema_statements(schemas | list, include_raw=false) -%}
    {%- if statements | length == 0 -%}
        {{ return('') }}
    {%- endif -%}
    {%- set body -%}
do $grant_schema_access$
begin
    perform pg_advisory_xact_lock(hashtext('shop_analytics.schema_access'));
    {%- for statement in statements %}
    {{ statement }};
    {%- endfor %}
end
$grant_schema_access$
    {%- endset -%}
    {{ return(body) }}
{%- endmacro %}


{#- Every statement of create_access_roles, in order. -#}
{% macro access_statements() -%}
    {%- set access = schema_access() -%}
    {%- set statements = role_statements() -%}
    {%- for schema in access -%}
        {%- do statements.append('create schema if not exists ' ~ schema) -%}
    {%- endfor -%}
    {%- do statements.extend(schema_statements(access.keys() | list, include_raw=true)) -%}
    {%- do statements.extend(database_statements()) -%}
    {{ return(statements) }}
{%- endmacro %}


{#- PostgreSQL lets every login connect to every database and make temporary tables there
    (PUBLIC's defaults): only the project's roles may connect, and only the transformer (dbt's
    incremental merges stage through temporary tables) may make them. -#}
{% macro database_statements() -%}
    {%- set statements = [] -%}
    {%- if target.type == 'postgres' -%}
        {%- set roles = access_roles() -%}
        {%- set database = adapter.quote(target.database) -%}
        {%- do statements.append('revoke connect, temporary on database ' ~ database ~ ' from public') -%}
        {%- do statements.append('grant connect on database ' ~ database ~ ' to ' ~ (roles.values() | join(', '))) -%}
        {%- do statements.append('grant temporary on database ' ~ database ~ ' to ' ~ roles.transformer) -%}
    {%- endif -%}
    {{ return(statements) }}
{%- endmacro %}


{% macro role_statements() -%}
    {{ return(adapter.dispatch('role_statements')()) }}
{%- endmacro %}

{#- Cluster-wide and raced by concurrent runs: create when missing, and treat "already exists"
    (another session won the race) as success. A role created here gets its creator as admin;
    the analyst -> pii_reader membership is granted when that is allowed. -#}
{% macro postgres__role_statements() -%}
    {%- set roles = access_roles() -%}
    {%- set statements = [] -%}
    {%- for role in roles.values() -%}
        {%- set statement -%}
do $create_role$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = '{{ role }}') then
        create role {{ role }} nologin;
    end if;
exception when duplicate_object or unique_violation then
    null;
end
$create_role$
        {%- endset -%}
        {%- do statements.append(statement) -%}
    {%- endfor -%}
    {%- set membership -%}
do $grant_role$
begin
    if not pg_has_role('{{ roles.pii_reader }}', '{{ roles.analyst }}', 'member') then
        grant {{ roles.analyst }} to {{ roles.pii_reader }};
    end if;
exception when insufficient_privilege or unique_violation then
    raise notice 'could not grant {{ roles.analyst }} to {{ roles.pii_reader }}: ask an administrator';
end
$grant_role$
    {%- endset -%}
    {%- do statements.append(membership) -%}
    {{ return(statements) }}
{%- endmacro %}

{#- Redshift has no `create role if not exists` and no anonymous blocks: ask which roles exist
    (when connected) and create the others. -#}
{% macro redshift__role_statements() -%}
    {%- set roles = access_roles() -%}
    {%- set existing = [] -%}
    {%- if execute and var('offline_compile', none) is none and flags.WHICH in ('run-operation', 'run', 'build', 'test', 'snapshot', 'seed', 'retry') -%}
        {%- set result = run_query(
            "select role_name from svv_roles where role_name in ('" ~ (roles.values() | join("', '")) ~ "')"
        ) -%}
        {%- do existing.extend(result.columns[0].values()) -%}
    {%- endif -%}
    {%- set statements = [] -%}
    {%- for role in roles.values() if role not in existing -%}
        {%- do statements.append('create role ' ~ role) -%}
    {%- endfor -%}
    {%- do statements.append('grant role ' ~ roles.analyst ~ ' to role ' ~ roles.pii_reader) -%}
    {{ return(statements) }}
{%- endmacro %}


{#- Schema-level privileges for `schemas`, and table privileges in the schemas whose tables
    dbt does not build (raw, the PII hash key's): there no `grants` config applies. -#}
{% macro schema_statements(schemas, include_raw) -%}
    {{ return(adapter.dispatch('schema_statements')(schemas, include_raw)) }}
{%- endmacro %}

{% macro default__schema_statements(schemas, include_raw) -%}
    {%- set access = schema_access() -%}
    {%- set raw_schema = env_var('RAW_SCHEMA', 'raw') -%}
    {%- set grantee = 'role ' if target.type == 'redshift' else '' -%}
    {%- set table_privileges = 'select, insert, update, delete' ~ ('' if target.type == 'redshift' else ', truncate') -%}
    {%- set statements = [] -%}
    {%- for schema in schemas if schema in access and (include_raw or schema not in (raw_schema, key_schema())) -%}
        {%- do statements.append('revoke all on schema ' ~ schema ~ ' from public') -%}
        {%- for role in access[schema].write -%}
            {%- do statements.append('grant usage, create on schema ' ~ schema ~ ' to ' ~ grantee ~ role) -%}
        {%- endfor -%}
        {%- for role in access[schema].read -%}
            {%- do statements.append('grant usage on schema ' ~ schema ~ ' to ' ~ grantee ~ role) -%}
        {%- endfor -%}
        {%- if schema in (raw_schema, key_schema()) -%}
            {%- for role in access[schema].write -%}
                {%- do statements.append('grant ' ~ table_privileges ~ ' on all tables in schema ' ~ schema ~ ' to ' ~ grantee ~ role) -%}
                {%- do statements.append('alter default privileges in schema ' ~ schema ~ ' grant ' ~ table_privileges ~ ' on tables to ' ~ grantee ~ role) -%}
                {%- if target.type != 'redshift' -%}
                    {%- do statements.append('grant usage, select, update on all sequences in schema ' ~ schema ~ ' to ' ~ role) -%}
                    {%- do statements.append('alter default privileges in schema ' ~ schema ~ ' grant usage, select, update on sequences to ' ~ role) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- for role in access[schema].read -%}
                {%- do statements.append('grant select on all tables in schema ' ~ schema ~ ' to ' ~ grantee ~ role) -%}
                {%- do statements.append('alter default privileges in schema ' ~ schema ~ ' grant select on tables to ' ~ grantee ~ role) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{%- endmacro %}

{#- Redshift has no anonymous blocks (dispatch would otherwise fall back to postgres__). -#}
{% macro redshift__grant_schema_access(schemas) -%}
    {{ return(default__grant_schema_access(schemas)) }}
{%- endmacro %}
