{#-
    The shop versioning rule (doc shop_versioning_rule), in one place for every shop table:
    among the valid rows of a key, version 1 is the latest (updated_at, then the latest day
    loaded, then the latest load); rejected rows are ranked apart and never current.
-#}

{#- The version number of each row of `key` (1 = current). -#}
{% macro version_rank(key) -%}
    row_number() over (
        partition by {{ key }}, rejection_reason is null
        order by updated_at desc, _ds desc, _load_id desc
    )
{%- endmacro %}

{#- 'current', 'superseded' or 'rejected', from rejection_reason and version_rank. -#}
{% macro row_status() -%}
    case
        when rejection_reason is not null then 'rejected'
        when version_rank = 1 then 'current'
        else 'superseded'
    end
{%- endmacro %}
