{#-
    The one place PII is masked (doc `pii_masking`). A mart or report ends with

        {{ select_masked('final') }}

    which selects every column the model declares in its YAML, in order, from the CTE `final`,
    applying the masking policy of each column whose `meta` names a PII class. Models therefore
    state what a column is (`config: {meta: {pii: email}}`) and never write masking SQL; the
    generic tests `pii_columns_are_masked` and `no_clear_text_pii`, on every mart and report,
    fail the build when one declares PII without this macro, or when any clear-text value
    reaches it.
-#}
{% macro select_masked(relation) -%}
    {%- if not execute -%}
        {{ return('select * from ' ~ relation) }}
    {%- endif -%}
    {%- set columns = model_column_specs() -%}
    {%- if columns | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "select_masked: " ~ model.name ~ " declares no columns; list them (with `meta.pii` for PII) in its YAML"
        ) }}
    {%- endif %}
    select
    {%- for column in columns %}
        {%- set qualified = relation ~ '.' ~ adapter.quote(column.name) if column.name != column.name | lower else relation ~ '.' ~ column.name %}
        {% if column.pii -%}
            {{ mask_pii(qualified, column.pii, column.masking) }} as {{ column.name }}
        {%- else -%}
            {{ qualified }} as {{ column.name }}
        {%- endif %}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ relation }}
{%- endmacro %}


{#-
    The model's declared columns, in YAML order: [{name, pii, masking}]. Unit tests see no
    YAML columns, so they override this macro with the list (`overrides: macros:`).
-#}
{% macro model_column_specs() -%}
    {%- set specs = [] -%}
    {%- for name, column in model.columns.items() -%}
        {%- set meta = (column.get('config') or {}).get('meta') or column.get('meta') or {} -%}
        {%- do specs.append({'name': name, 'pii': meta.get('pii'), 'masking': meta.get('masking')}) -%}
    {%- endfor -%}
    {{ return(specs) }}
{%- endmacro %}
