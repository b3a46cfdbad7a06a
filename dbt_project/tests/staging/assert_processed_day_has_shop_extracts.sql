-- When a run processes a day (`--vars '{ds: YYYY-MM-DD}'`, as the DAG does), the shop's
-- product catalogue must have been loaded for it: products arrive as a full snapshot every
-- day, so an empty day means the shop extract did not happen.
{{ config(severity='error') }}

{% if var('ds') %}
select '{{ var("ds") }}' as missing_day
where not exists (
    select 1
    from {{ source('shop', 'products') }}
    where _ds = cast('{{ var("ds") }}' as date)
)
{% else %}
select 1 as missing_day
where 1 = 0
{% endif %}
