{#-
    A custom schema is used verbatim (`staging`, `intermediate`), not prefixed with the
    target schema as dbt does by default; models without one (the marts) land in the
    target schema, i.e. DBT_SCHEMA.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
