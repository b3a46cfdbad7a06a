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


{#- True when the run processes some days only (`ds` or a range), false for an all-days run. -#}
{% macro processes_some_days() -%}
    {{ return(processing_days()[0] is not none) }}
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


{#- The negation of in_processing_days, for rows of other days (false for an all-days run). -#}
{% macro outside_processing_days(column) -%}
    {%- if processes_some_days() -%}
        (not {{ in_processing_days(column) }})
    {%- else -%}
        (1 = 0)
    {%- endif -%}
{%- endmacro %}


{#-
    A predicate keeping the rows built from versions delivered on the days processed, given the
    row's lineage: the first and latest delivery day (`_ds`) of the versions it was built from.
    A row whose range overlaps the processed days may depend on them (doc `incremental_lineage`).
-#}
{% macro lineage_in_processing_days(first_column, last_column) -%}
    {%- set first_day, last_day = processing_days() -%}
    {%- if first_day is none -%}
        (1 = 1)
    {%- else -%}
        ({{ first_column }} <= cast('{{ last_day }}' as date) and {{ last_column }} >= cast('{{ first_day }}' as date))
    {%- endif -%}
{%- endmacro %}


{#- The first and the last processed day as SQL dates (null for an all-days run). -#}
{% macro first_processing_day() -%}
    {%- set first_day = processing_days()[0] -%}
    {{- "cast(null as date)" if first_day is none else "cast('" ~ first_day ~ "' as date)" -}}
{%- endmacro %}

{% macro last_processing_day() -%}
    {%- set last_day = processing_days()[1] -%}
    {{- "cast(null as date)" if last_day is none else "cast('" ~ last_day ~ "' as date)" -}}
{%- endmacro %}


{#-
    The `where` config of the data tests of day-partitioned (and lineage-tracked) models: in a
    run that processes some days, a test checks the rows of those days only; in an all-days run
    (an analyst's `dbt build`, the weekly check) it checks every row. See doc `scoped_tests`.
-#}
{% macro processed_rows(column='_ds') -%}
    {{- in_processing_days(column) -}}
{%- endmacro %}

{% macro processed_lineage(first_column='_first_ds', last_column='_last_ds') -%}
    {{- lineage_in_processing_days(first_column, last_column) -}}
{%- endmacro %}


{#-
    The (user, product) pairs the processed days touched, as a predicate on a relation with
    `user_id` and `product_id`: those with a row of `pair_days` (the daily model) on a
    processed day, withdrawn pairs included (doc user_product_running_totals).
-#}
{% macro pairs_touched_by_processed_days(pair_days) -%}
    (user_id, product_id) in (
        select touched.user_id, touched.product_id
        from {{ pair_days }} as touched
        where {{ in_processing_days('touched._ds') }}
    )
{%- endmacro %}
