{#-
    The days a run processes (doc `processing_days`): `ds` when set (the Airflow DAG), else the
    inclusive range `start_ds`..`end_ds` (a backfill; `end_ds` defaults to `start_ds`), else
    every day (none, none).
-#}
{% macro processing_days() -%}
    {%- set ds = var('ds', none) -%}
    {%- set start_ds = var('start_ds', none) -%}
    {%- set end_ds = var('end_ds', none) -%}
    {%- if ds -%}
        {%- set days = [ds, ds] -%}
    {%- elif start_ds -%}
        {%- set days = [start_ds, end_ds or start_ds] -%}
    {%- elif end_ds -%}
        {{ exceptions.raise_compiler_error("end_ds is set without start_ds: set both (a range of days) or ds (one day)") }}
    {%- else -%}
        {{ return([none, none]) }}
    {%- endif -%}
    {%- for day in days -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', day | string) -%}
            {{ exceptions.raise_compiler_error("'" ~ day ~ "' is not a day: pass ds / start_ds / end_ds as YYYY-MM-DD") }}
        {%- endif -%}
    {%- endfor -%}
    {%- if (days[0] | string) > (days[1] | string) -%}
        {{ exceptions.raise_compiler_error("start_ds " ~ days[0] ~ " is after end_ds " ~ days[1]) }}
    {%- endif -%}
    {{ return([days[0] | string, days[1] | string]) }}
{%- endmacro %}


{#- A predicate keeping the rows of `column` (a date) that fall in the days processed. -#}
{% macro in_processing_days(column) -%}
    {%- set first_day, last_day = processing_days() -%}
    {%- if first_day is none -%}
        (1 = 1)
    {%- elif first_day == last_day -%}
        ({{ column }} = cast('{{ first_day }}' as date))
    {%- else -%}
        ({{ column }} between cast('{{ first_day }}' as date) and cast('{{ last_day }}' as date))
    {%- endif -%}
{%- endmacro %}


{#-
    Post-hook of the incremental facts: delete the rows of the days processed whose `key` is no
    longer staged (a day reloaded with fewer rows), so re-running a day replaces it. Plain
    `delete ... where key not in (...)`: Redshift's DELETE takes no table alias.
-#}
{% macro delete_rows_no_longer_staged(key, staged) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where
            {{ in_processing_days('_ds') }}
            and {{ key }} not in (select staged.{{ key }} from {{ staged }} as staged)
    {%- endif -%}
{%- endmacro %}
