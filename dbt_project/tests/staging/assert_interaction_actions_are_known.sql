-- Warns when the days processed hold interactions whose action is none of the funnel's steps
-- (view, click, add_to_cart, purchase) or `unknown` (delivered empty): a new kind of event the
-- reports would count as "other". Reads the day's per-pair counts, not the interactions.
{{ config(severity='warn') }}

select
    _ds,
    sum(unexpected_action_count) as unexpected_actions

from {{ ref('int_user_interactions_daily') }}
where {{ processed_rows() }}
group by _ds
having sum(unexpected_action_count) > 0
