{#-
    Casts that turn a bad value into null instead of failing the whole query, so a malformed row
    can be counted and quarantined. Regular expressions use bracket classes ([0-9]), not `\d`:
    Redshift reads backslashes in string literals as escapes.
-#}

{#- A positive whole-number id delivered as text (at most 18 digits: fits a bigint). -#}
{% macro safe_cast_id(column) -%}
    case
        when trim({{ column }}) ~ '^[0-9]{1,18}$' then cast(trim({{ column }}) as bigint)
    end
{%- endmacro %}


{#-
    An ISO 8601 timestamp delivered as text -> timestamp in UTC, or null when it is malformed
    or impossible (month 13, 30 February, "yesterday"). Accepts `YYYY-MM-DD[T ]HH:MM:SS[.ffffff]`
    with an optional `Z` or `+HH[:MM]` offset; no offset means UTC.
-#}
{% macro safe_to_timestamp(column) -%}
    {{ return(adapter.dispatch('safe_to_timestamp')(column)) }}
{%- endmacro %}

{% macro iso_timestamp_pattern() -%}
    '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,6})?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$'
{%- endmacro %}

{% macro with_utc_default(column) -%}
    case
        when trim({{ column }}) ~ '(Z|[+-][0-9]{2}(:?[0-9]{2})?)$' then trim({{ column }})
        else trim({{ column }}) || 'Z'
    end
{%- endmacro %}

{% macro postgres__safe_to_timestamp(column) -%}
    case
        when trim({{ column }}) ~ {{ iso_timestamp_pattern() }}
            and pg_input_is_valid({{ with_utc_default(column) }}, 'timestamptz')
            then cast({{ with_utc_default(column) }} as timestamptz) at time zone 'UTC'
    end
{%- endmacro %}

{#-
    Redshift has no pg_input_is_valid: check the ranges of every part, and the day against the
    month's length, before casting (a failed cast would fail the whole query).
-#}
{% macro redshift__safe_to_timestamp(column) -%}
    case
        when trim({{ column }}) ~ {{ iso_timestamp_pattern() }}
            and substring(trim({{ column }}), 6, 2) between '01' and '12'
            and substring(trim({{ column }}), 9, 2) between '01' and '31'
            and substring(trim({{ column }}), 12, 2) between '00' and '23'
            and substring(trim({{ column }}), 15, 2) between '00' and '59'
            and substring(trim({{ column }}), 18, 2) between '00' and '59'
            and cast(substring(trim({{ column }}), 9, 2) as integer) <= extract(
                day from last_day(to_date(substring(trim({{ column }}), 1, 7) || '-01', 'YYYY-MM-DD'))
            )
            then convert_timezone('UTC', cast({{ with_utc_default(column) }} as timestamptz))
    end
{%- endmacro %}
