{#-
    The actions the funnel counts, and `unknown` (an action delivered empty): fixed words of the
    project, so a column holding one of them holds no PII (the PII leak scan skips them, doc
    pii_masking). Any other value is counted as unexpected (int_user_product_interactions_daily).
-#}
{% macro known_interaction_actions() -%}
    {{ return(['view', 'click', 'add_to_cart', 'purchase', 'unknown']) }}
{%- endmacro %}


{#- `values` as a parenthesised SQL list of string literals: ('a', 'b'). -#}
{% macro sql_string_list(values) -%}
    ({% for value in values %}'{{ value | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}
