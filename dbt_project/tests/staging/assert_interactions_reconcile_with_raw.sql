-- Every raw interaction is accounted for, per day: raw rows = staged rows + rejected rows.
with

raw_rows as (
    select
        _ds,
        count(*) as row_count
    from {{ source('interactions', 'user_interactions') }}
    group by _ds
),

staged as (
    select
        _ds,
        count(*) as row_count
    from {{ ref('stg_interactions__user_interactions') }}
    group by _ds
),

rejected as (
    select
        _ds,
        count(*) as row_count
    from {{ ref('stg_interactions__user_interaction_rejects') }}
    group by _ds
)

select
    raw_rows._ds,
    raw_rows.row_count as raw_rows,
    coalesce(staged.row_count, 0) as staged_rows,
    coalesce(rejected.row_count, 0) as rejected_rows

from raw_rows
left join staged on raw_rows._ds = staged._ds
left join rejected on raw_rows._ds = rejected._ds
where raw_rows.row_count <> coalesce(staged.row_count, 0) + coalesce(rejected.row_count, 0)
