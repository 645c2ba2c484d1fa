{#-
    Fails with one row per combination of `combination_of_columns` held by more than one
    row. Portable (PostgreSQL, SQL Server); `quote_columns` quotes each column name, for
    mixed-case names such as SuiviMO's. Every selected column is named (`key_1`, …): on
    SQL Server, dbt-sqlserver wraps a test in CREATE VIEW, which refuses an unnamed
    expression such as `lower(ltrim(rtrim(codebs)))` (Msg 4511).
-#}
{% test unique_combination_of_columns(model, combination_of_columns, quote_columns=false) %}
    {%- set columns = [] -%}
    {%- for column in combination_of_columns -%}
        {%- do columns.append(adapter.quote(column) if quote_columns else column) -%}
    {%- endfor -%}
    {%- set column_list = columns | join(', ') %}

select
    {%- for column in columns %}
    {{ column }} as {{ adapter.quote('key_' ~ loop.index) }},
    {%- endfor %}
    count(*) as n_records
from {{ model }}
group by {{ column_list }}
having count(*) > 1

{% endtest %}
