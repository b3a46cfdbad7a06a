{#-
    Models land in the schema their folder names (`staging`, `intermediate`, `marts`), not in
    `<target schema>_<name>`: analysts and grants address the same schema names on every target.
    Models without a custom schema go to the target's schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
