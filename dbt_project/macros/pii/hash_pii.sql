{#-
    Salted hashing of PII (doc `pii_masking`): sha256(salt || lower(trim(value))), hex. The same
    value always gives the same hash within a deployment (so hashed emails still join), and the
    salt keeps a dictionary of known emails from reversing it.

    The salt comes from the environment variable PII_HASH_SALT; the default below is for local
    development only, is not a secret, and is refused on `prod` (or any Redshift target, or with
    var `pii_require_secret_salt`). The salt is written into SQL only by commands that run
    SQL: `dbt compile` and `dbt docs generate` render a placeholder instead, so the compiled
    code in docs and manifests never carries it.
-#}
{% macro pii_hash_salt() -%}
    {%- set public_default = 'local-dev-salt-not-a-secret' -%}
    {%- if flags.WHICH in ('run', 'build', 'test', 'snapshot', 'seed', 'retry', 'run-operation') -%}
        {%- set salt = env_var('PII_HASH_SALT', public_default) -%}
        {#- production fails closed: no hash is ever made there with a salt anyone can read -#}
        {%- if (target.name == 'prod' or target.type == 'redshift' or var('pii_require_secret_salt', false))
                and (salt == public_default or salt | length < 16) -%}
            {{ exceptions.raise_compiler_error(
                "PII_HASH_SALT is " ~ ("not set" if salt == public_default else "shorter than 16 characters")
                ~ " for target " ~ target.name ~ ": set it to a long random secret (e.g. `openssl rand -hex 32`)"
                ~ " from your secret store; the public development default is refused outside dev") }}
        {%- endif -%}
    {%- else -%}
        {%- set salt = '<PII_HASH_SALT>' -%}
    {%- endif -%}
    {{ return("'" ~ salt | replace("'", "''") ~ "'") }}
{%- endmacro %}


{% macro hash_pii(expression) -%}
    {{ return(adapter.dispatch('hash_pii')(expression)) }}
{%- endmacro %}

{% macro postgres__hash_pii(expression) -%}
    case
        when nullif(trim({{ expression }}), '') is not null
            then encode(sha256(convert_to({{ pii_hash_salt() }} || lower(trim({{ expression }})), 'UTF8')), 'hex')
    end
{%- endmacro %}

{% macro redshift__hash_pii(expression) -%}
    case
        when nullif(trim({{ expression }}), '') is not null
            then sha2({{ pii_hash_salt() }} || lower(trim({{ expression }})), 256)
    end
{%- endmacro %}
