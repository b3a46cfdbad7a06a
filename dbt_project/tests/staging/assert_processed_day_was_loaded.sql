-- When a run processes a day (`--vars '{ds: YYYY-MM-DD}'`, as the DAG does), that day's
-- interactions must have reached staging: an empty day means the load did not happen.
{{ config(severity='error') }}

{% if var('ds') %}
select '{{ var("ds") }}' as missing_day
where not exists (
    select 1
    from {{ ref('stg_interactions__user_interactions') }}
    where _ds = cast('{{ var("ds") }}' as date)
)
{% else %}
select 1 as missing_day
where 1 = 0
{% endif %}
