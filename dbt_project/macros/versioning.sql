{#-
    The shop versioning rule (doc shop_versioning_rule), in one place for every shop table:
    among the valid versions of a key, the current one is the latest by `updated_at`, then the
    latest day loaded (`_ds`), then the latest load (`_load_id`).
-#}

{#- 1 for the current version among the rows of each `key` (all valid). -#}
{% macro version_rank(key) -%}
    row_number() over (
        partition by {{ key }}
        order by updated_at desc, _ds desc, _load_id desc
    )
{%- endmacro %}


{#-
    The body of a `stg_shop__<entity>s` model: one row per `key`, its current valid version, from
    `base` (every version, typed, with `rejection_reason`). The columns are the model's own, as
    its YAML declares them (lineage included), so each is named once, there.

    Incremental (doc incremental_staging): the keys the processed days touched (a version
    delivered on them, or a current version that came from them) are resolved again from
    their versions of those days and the version already staged from another day (which, by
    construction, is the best of the other days); only a key whose staged version came from a
    processed day reads its versions of other days, through the base model's key index.
-#}
{% macro select_current_versions(base, key) -%}
{%- set selected = staged_version_columns(key) -%}
with

{% if is_incremental() %}
processed_versions as (

    select {{ selected | join(', ') }}, rejection_reason
    from {{ base }}
    where {{ in_processing_days('_ds') }}

),

staged_from_processed_days as (

    select {{ key }}
    from {{ this }}
    where {{ in_processing_days('_ds') }}

),

touched_keys as (

    select {{ key }} from processed_versions
    union
    select {{ key }} from staged_from_processed_days

),

staged_elsewhere as (

    -- the current version of a touched key when it came from a day outside this run
    select {% for column in selected %}staged.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ this }} as staged
    where
        {{ outside_processing_days('staged._ds') }}
        and staged.{{ key }} in (select touched_keys.{{ key }} from touched_keys)

),

other_days as (

    -- keys whose current version came from a processed day: their versions of other days
    select {% for column in selected %}versions.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ base }} as versions
    where
        versions.rejection_reason is null
        and {{ outside_processing_days('versions._ds') }}
        and versions.{{ key }} in (select staged_from_processed_days.{{ key }} from staged_from_processed_days)

),

candidates as (

    select {{ selected | join(', ') }} from processed_versions
    where rejection_reason is null
    union all
    select * from staged_elsewhere
    union all
    select * from other_days

),
{% else %}
candidates as (

    select {{ selected | join(', ') }}
    from {{ base }}
    where rejection_reason is null

),
{% endif %}

versioned as (

    select
        *,
        {{ version_rank(key) }} as version_rank

    from candidates

),

final as (

    select {{ selected | join(', ') }}
    from versioned
    where version_rank = 1

)

select * from final
{%- endmacro %}


{#-
    `replace_where` of a `stg_shop__<entity>s` model: the keys the processed days touched, as
    delivered that day (`base`) or as staged from them before (the model itself).
-#}
{% macro versions_touched_by_processed_days(base, key) -%}
    ({{ key }} in (
        select touched.{{ key }}
        from {{ base }} as touched
        where {{ in_processing_days('touched._ds') }}
    ) or {{ in_processing_days('_ds') }})
{%- endmacro %}


{#- The columns of the `stg_shop__` model being built, in YAML order (at parse time, when no
    YAML is read yet, the key and the lineage the SQL needs). -#}
{% macro staged_version_columns(key) -%}
    {%- set lineage = ['_ds', '_source_file', '_load_id', '_loaded_at'] -%}
    {%- if not execute -%}
        {{ return([key] + lineage) }}
    {%- endif -%}
    {%- set columns = model.columns.keys() | list -%}
    {%- set missing = ([key, 'updated_at'] + lineage) | reject('in', columns) | list -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ " declares no column " ~ (missing | join(', ')) ~ " in its YAML: select_current_versions"
            ~ " selects the columns the model declares, and needs the key, updated_at and the lineage") }}
    {%- endif -%}
    {{ return(columns) }}
{%- endmacro %}
