-- Every raw interaction is accounted for, per day: raw rows = staged rows + rejected rows.
-- The raw rows are those the load audit records for the day's current load (the loader checks
-- them against the COPY, in the load's transaction); the staged rows are counted through the
-- per-pair day counts, the rejected ones through the rejects' index, so the check reads neither
-- the raw partition nor the day's interactions again. Checks the days the run processes (every
-- day in an all-days run): doc scoped_tests.
with

loads as (
    select
        ds as _ds,
        rows_loaded,
        row_number() over (partition by ds order by load_id desc) as recency
    from {{ source('loader', 'load_audit') }}
    where table_name = 'user_interactions' and {{ processed_rows('ds') }}
),

staged as (
    select
        _ds,
        sum(interaction_count) as row_count
    from {{ ref('int_user_interactions_daily') }}
    where {{ processed_rows() }}
    group by _ds
),

rejected as (
    select
        _ds,
        count(*) as row_count
    from {{ ref('stg_interactions__user_interaction_rejects') }}
    where {{ processed_rows() }}
    group by _ds
)

select
    loads._ds,
    loads.rows_loaded as raw_rows,
    coalesce(staged.row_count, 0) as staged_rows,
    coalesce(rejected.row_count, 0) as rejected_rows

from loads
left join staged on loads._ds = staged._ds
left join rejected on loads._ds = rejected._ds
where
    loads.recency = 1
    and loads.rows_loaded <> coalesce(staged.row_count, 0) + coalesce(rejected.row_count, 0)
