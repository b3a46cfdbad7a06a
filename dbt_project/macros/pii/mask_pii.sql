{#-
    Masking functions, one per policy (doc `pii_masking`). Each keeps just enough of a value for
    analysis and returns null for null or blank input. `mask_pii` picks the function for a
    column's PII class (`meta.pii`) or its explicit policy (`meta.masking`).
-#}

{#- The policy that applies to a column: its explicit `masking`, else its class's default. -#}
{% macro pii_masking_policy(pii_class, masking=none) -%}
    {%- set defaults = {
        'name': 'initial',
        'email': 'mask_email',
        'phone': 'mask_phone',
        'street_address': 'redact',
        'postal_code': 'postal_area',
    } -%}
    {%- set policy = masking or defaults.get(pii_class) -%}
    {%- if policy not in ('hash', 'mask_email', 'mask_phone', 'initial', 'postal_area', 'redact') -%}
        {{ exceptions.raise_compiler_error(
            "no masking policy for PII class '" ~ pii_class ~ "' (masking: '" ~ masking ~ "'): use one of "
            ~ "hash, mask_email, mask_phone, initial, postal_area, redact; clear text belongs in models/pii/"
        ) }}
    {%- endif -%}
    {{ return(policy) }}
{%- endmacro %}


{% macro mask_pii(expression, pii_class, masking=none) -%}
    {%- set policy = pii_masking_policy(pii_class, masking) -%}
    {%- if policy == 'hash' -%} {{ hash_pii(expression) }}
    {%- elif policy == 'mask_email' -%} {{ mask_email(expression) }}
    {%- elif policy == 'mask_phone' -%} {{ mask_phone(expression) }}
    {%- elif policy == 'initial' -%} {{ mask_name(expression) }}
    {%- elif policy == 'postal_area' -%} {{ mask_postal_code(expression) }}
    {%- else -%} {{ redact_pii(expression) }}
    {%- endif -%}
{%- endmacro %}


{#- SQL that is true when `column` holds a value masked by `policy` (or null). -#}
{% macro is_masked_by_policy(column, policy) -%}
    {%- set patterns = {
        'hash': '^[0-9a-f]{64}$',
        'mask_email': '^(.[*]{3}@.*|[*]{3})$',
        'mask_phone': '^[*]{3}[0-9]{0,2}$',
        'initial': '^.[.]$',
        'postal_area': '^.{1,2}$',
    } -%}
    {%- if policy == 'redact' -%}
        ({{ column }} is null)
    {%- else -%}
        ({{ column }} is null or {{ column }} ~ '{{ patterns[policy] }}')
    {%- endif -%}
{%- endmacro %}


{#- jane.doe@example.com -> j***@example.com -#}
{% macro mask_email(expression) -%}
    {{ return(adapter.dispatch('mask_email')(expression)) }}
{%- endmacro %}

{% macro default__mask_email(expression) -%}
    case
        when lower(trim({{ expression }})) like '_%@_%'
            then left(lower(trim({{ expression }})), 1) || '***@' || split_part(lower(trim({{ expression }})), '@', 2)
        when nullif(trim({{ expression }}), '') is not null then '***'
    end
{%- endmacro %}


{#- +1-555-123-4567 -> ***67 (the last two digits). Redshift's regexp_replace replaces every
    match by default and takes no flags argument; PostgreSQL's needs the 'g' flag. -#}
{% macro mask_phone(expression) -%}
    {{ return(adapter.dispatch('mask_phone')(expression)) }}
{%- endmacro %}

{% macro postgres__mask_phone(expression) -%}
    case
        when nullif(trim({{ expression }}), '') is not null
            then '***' || right(regexp_replace({{ expression }}, '[^0-9]', '', 'g'), 2)
    end
{%- endmacro %}

{% macro redshift__mask_phone(expression) -%}
    case
        when nullif(trim({{ expression }}), '') is not null
            then '***' || right(regexp_replace({{ expression }}, '[^0-9]', ''), 2)
    end
{%- endmacro %}


{#- Ada -> A. -#}
{% macro mask_name(expression) -%}
    {{ return(adapter.dispatch('mask_name')(expression)) }}
{%- endmacro %}

{% macro default__mask_name(expression) -%}
    case
        when nullif(trim({{ expression }}), '') is not null then upper(left(trim({{ expression }}), 1)) || '.'
    end
{%- endmacro %}


{#- 1234-567 -> 12: the broad area only. -#}
{% macro mask_postal_code(expression) -%}
    {{ return(adapter.dispatch('mask_postal_code')(expression)) }}
{%- endmacro %}

{% macro default__mask_postal_code(expression) -%}
    nullif(left(upper(trim({{ expression }})), 2), '')
{%- endmacro %}


{#- Nothing of the value is kept. -#}
{% macro redact_pii(expression) -%}
    {{ return(adapter.dispatch('redact_pii')(expression)) }}
{%- endmacro %}

{% macro default__redact_pii(expression) -%}
    cast(null as {{ dbt.type_string() }})
{%- endmacro %}
