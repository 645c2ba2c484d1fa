{#- The `known_statuses` var as a SQL list of string literals (quotes doubled). -#}
{% macro known_statuses_list() -%}
    {%- set statuses = var('known_statuses') -%}
    {%- if statuses is string -%}
        {%- set statuses = statuses.split(',') -%}
    {%- endif -%}
    {%- for status in statuses -%}
        '{{ status | string | trim | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
