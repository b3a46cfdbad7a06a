-- When a run processes a day (`--vars '{ds: YYYY-MM-DD}'`, as the DAG does), that day's
-- interactions must have reached staging: an empty day means the load did not happen. Read
-- from the day's per-user counts (its own small partition), not from the interactions.
{{ config(severity='error') }}

{% if var('ds') %}
select '{{ var("ds") }}' as missing_day
where not exists (
    select 1
    from {{ ref('int_user_interactions_daily') }}
    where _ds = cast('{{ var("ds") }}' as date) and interaction_count > 0
)
{% else %}
select 1 as missing_day
where 1 = 0
{% endif %}
