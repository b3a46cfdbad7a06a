{#-
    The smaller / larger of two values of which either may be null (null only when both are):
    running first and last timestamps merge a day's value into a total that may not exist yet.
-#}
{% macro least_of(left, right) -%}
    case
        when {{ left }} is null then {{ right }}
        when {{ right }} is null or {{ left }} <= {{ right }} then {{ left }}
        else {{ right }}
    end
{%- endmacro %}

{% macro greatest_of(left, right) -%}
    case
        when {{ left }} is null then {{ right }}
        when {{ right }} is null or {{ left }} >= {{ right }} then {{ left }}
        else {{ right }}
    end
{%- endmacro %}
