{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild',
        on_schema_change='fail',
        indexes=[{'columns': ['user_id', 'product_id'], 'unique': true}],
        dist='user_id',
        sort=['user_id', 'product_id'],
    )
}}
-- One row per user and product that interacted: the pair's totals over every loaded day, the
-- latest delivery day that changed them (`_ds`) and the totals before that day (`before_*`).
-- The compact per-pair state (users x products, not interactions), merged by delta (doc
-- user_product_running_totals): a run reads the processed days' per-pair rows and this state,
-- and writes the state again; only pairs re-processed out of order read their history.
{%- set counts = [
    'interaction_count', 'view_count', 'click_count', 'add_to_cart_count', 'purchase_count',
    'other_action_count',
] %}
with

pair_days as (

    -- a pair's contribution per delivery day (over the UTC days that delivery holds)
    select
        _ds,
        user_id,
        product_id,
        {%- for count in counts %}
        sum({{ count }}) as {{ count }},
        {%- endfor %}
        min(first_interacted_at) as first_interacted_at,
        max(last_interacted_at) as last_interacted_at

    from {{ ref('int_user_product_interactions_daily') }}
    {%- if is_incremental() %}
    where {{ in_processing_days('_ds') }}
    {%- endif %}
    group by _ds, user_id, product_id

),

{% if is_incremental() %}
state as (

    select * from {{ this }}

),
{% endif %}

{%- set one_day = is_incremental() and processing_days()[0] == processing_days()[1] %}
{{ pair_totals_from_days('pair_days', counts, single_day=one_day) }},

{% if is_incremental() %}
classified as (

    -- how each touched pair's state relates to the processed days
    select
        delta.*,
        case
            when previous.user_id is null then 'new'
            when previous._ds < {{ first_processing_day() }} then 'advance'
            when
                previous._ds = {{ first_processing_day() }}
                and {{ first_processing_day() }} = {{ last_processing_day() }}
                then 'rerun'
            else 'rebuild'
        end as merge_path,
        {%- for count in counts %}
        previous.{{ count }} as previous_{{ count }},
        previous.before_{{ count }} as previous_before_{{ count }},
        {%- endfor %}
        previous.first_interacted_at as previous_first_interacted_at,
        previous.last_interacted_at as previous_last_interacted_at,
        previous.before_first_interacted_at as previous_before_first_interacted_at,
        previous.before_last_interacted_at as previous_before_last_interacted_at

    from pair_totals as delta
    left join state as previous
        on
            delta.user_id = previous.user_id
            and delta.product_id = previous.product_id

),

merged as (

    -- new: the processed days' totals; advance (the state ends before the processed days):
    -- the state plus them; rerun (the processed day is the state's latest one, again): the
    -- totals before that day plus its new delivery
    select
        user_id,
        product_id,
        merge_path,
        _ds,
        {%- for count in counts %}
        case merge_path
            when 'new' then {{ count }}
            when 'advance' then previous_{{ count }} + {{ count }}
            else previous_before_{{ count }} + {{ count }}
        end as {{ count }},
        case merge_path
            when 'new' then before_{{ count }}
            when 'advance' then previous_{{ count }} + before_{{ count }}
            else previous_before_{{ count }}
        end as before_{{ count }},
        {%- endfor %}
        case merge_path
            when 'new' then first_interacted_at
            when 'advance' then {{ least_of('previous_first_interacted_at', 'first_interacted_at') }}
            else {{ least_of('previous_before_first_interacted_at', 'first_interacted_at') }}
        end as first_interacted_at,
        case merge_path
            when 'new' then last_interacted_at
            when 'advance' then {{ greatest_of('previous_last_interacted_at', 'last_interacted_at') }}
            else {{ greatest_of('previous_before_last_interacted_at', 'last_interacted_at') }}
        end as last_interacted_at,
        case merge_path
            when 'new' then before_first_interacted_at
            when 'advance' then {{ least_of('previous_first_interacted_at', 'before_first_interacted_at') }}
            else previous_before_first_interacted_at
        end as before_first_interacted_at,
        case merge_path
            when 'new' then before_last_interacted_at
            when 'advance' then {{ greatest_of('previous_last_interacted_at', 'before_last_interacted_at') }}
            else previous_before_last_interacted_at
        end as before_last_interacted_at

    from classified

),

rebuilt_pairs as (

    -- a pair whose state already holds a processed day or a later one, when days are
    -- re-processed out of order or as a range over what was processed before
    select
        user_id,
        product_id

    from merged
    where merge_path = 'rebuild'

),

rebuilt_days as (

    -- their every delivery day (read only when there is such a pair)
    select
        history._ds,
        history.user_id,
        history.product_id,
        {%- for count in counts %}
        sum(history.{{ count }}) as {{ count }},
        {%- endfor %}
        min(history.first_interacted_at) as first_interacted_at,
        max(history.last_interacted_at) as last_interacted_at

    from {{ ref('int_user_product_interactions_daily') }} as history
    where
        exists (select 1 from rebuilt_pairs)
        and (history.user_id, history.product_id) in (
            select rebuilt_pairs.user_id, rebuilt_pairs.product_id from rebuilt_pairs
        )
    group by history._ds, history.user_id, history.product_id

),

{{ pair_totals_from_days('rebuilt_days', counts, name='rebuilt_totals') }},

touched as (

    select
        user_id,
        product_id,
        _ds,
        {%- for count in counts %}
        {{ count }},
        before_{{ count }},
        {%- endfor %}
        first_interacted_at,
        last_interacted_at,
        before_first_interacted_at,
        before_last_interacted_at

    from merged
    where merge_path <> 'rebuild'

    union all

    select * from rebuilt_totals

),

final as (

    -- the pairs the days did not touch, as they were; the touched ones that still interacted
    select state.*
    from state
    where not exists (
        select 1
        from merged
        where merged.user_id = state.user_id and merged.product_id = state.product_id
    )

    union all

    select * from touched
    where interaction_count > 0

)
{% else %}
final as (

    select * from pair_totals
    where interaction_count > 0

)
{% endif %}

select * from final
