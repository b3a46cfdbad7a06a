{#-
    Keyed hashing of PII (doc `pii_masking`), hex, null for null or blank input:

        sha256_hex(key || sha256_hex(key || lower(trim(value))))

    The same value always gives the same hash within a warehouse (hashed emails still join),
    and without the key nobody can hash a list of known emails to reverse it. Redshift has no
    HMAC and its SHA2 hashes text only, so both warehouses use this nested construction: the
    outer keyed hash covers the fixed-length inner digest, out of reach of length extension.

    The key is never in the SQL: the models read it from the warehouse, source
    `pii_keys.hash_key` (readable by the transformer role only), with a scalar subquery, so
    compiled SQL, manifests, run results, logs and the docs site hold only that reference.
    `python -m loaders pii-key` installs it from PII_HASH_KEY (`make up` installs the public
    development key on the local stack); macro check_pii_hash_key refuses a missing key, and on
    prod or Redshift the development key or one under 16 characters, before a run hashes.
    A model that hashes names the source in a `-- depends_on:` line (its lineage; unit tests
    give the key as that input).
-#}
{% macro hash_pii(expression) -%}
    {%- set key = '(select hash_key from ' ~ source('pii_keys', 'hash_key') ~ ')' -%}
    case
        when nullif(trim({{ expression }}), '') is not null
            then {{ sha256_hex(key ~ ' || ' ~ sha256_hex(key ~ ' || lower(trim(' ~ expression ~ '))')) }}
    end
{%- endmacro %}


{#- SHA-256 of a text's UTF-8 bytes, as lower-case hex text. -#}
{% macro sha256_hex(expression) -%}
    {{ return(adapter.dispatch('sha256_hex')(expression)) }}
{%- endmacro %}

{% macro postgres__sha256_hex(expression) -%}
    encode(sha256(convert_to({{ expression }}, 'UTF8')), 'hex')
{%- endmacro %}

{% macro redshift__sha256_hex(expression) -%}
    sha2({{ expression }}, 256)
{%- endmacro %}
