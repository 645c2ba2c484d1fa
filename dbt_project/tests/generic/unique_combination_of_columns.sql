{#-
    Fails with one row per combination of `combination_of_columns` held by more than one
    row. Portable (PostgreSQL, SQL Server); `quote_columns` quotes each column name, for
    mixed-case names such as SuiviMO's.
-#}
{% test unique_combination_of_columns(model, combination_of_columns, quote_columns=false) %}
    {%- set columns = [] -%}
    {%- for column in combination_of_columns -%}
        {%- do columns.append(adapter.quote(column) if quote_columns else column) -%}
    {%- endfor -%}
    {%- set column_list = columns | join(', ') %}

select
    {{ column_list }},
    count(*) as n_records
from {{ model }}
group by {{ column_list }}
having count(*) > 1

{% endtest %}
