{#-
    Salted hashing of PII (doc `pii_masking`): sha256(salt || lower(trim(value))), hex. The same
    value always gives the same hash within a deployment (so hashed emails still join), and the
    salt keeps a dictionary of known emails from reversing it.

    The salt comes from the environment variable PII_HASH_SALT; the default below is for local
    development only and is not a secret. The salt is written into SQL only by commands that run
    SQL: `dbt compile` and `dbt docs generate` render a placeholder instead, so the compiled
    code in docs and manifests never carries it.
-#}
{% macro pii_hash_salt() -%}
    {%- if flags.WHICH in ('run', 'build', 'test', 'snapshot', 'seed', 'retry', 'run-operation') -%}
        {%- set salt = env_var('PII_HASH_SALT', 'local-dev-salt-not-a-secret') -%}
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
