{#-
    md5 of exactly the six fields a SuiviMO row receives, in one fixed textual form:

        CodeChantier|CodeSalarie|YYYY-MM-DDTHH:MM:SS|NbH0 with 6 decimals|NbH3|NbH4

    e.g. `C001|S0001|2026-03-29T08:30:00|1.500000|1|0`; a null field is written as an
    empty string. Used for the current values (int_time_slots_resolved) and for what the
    map says was pushed when the exporter left values_hash empty, so both compare alike.
-#}
{% macro suivimo_values_hash(code_chantier, code_salarie, date_sqlserver, nb_h0, nb_h3, nb_h4) -%}
    md5(
        coalesce(({{ code_chantier }})::text, '')
        || '|' || coalesce(({{ code_salarie }})::text, '')
        || '|' || coalesce(to_char({{ date_sqlserver }}, 'YYYY-MM-DD"T"HH24:MI:SS'), '')
        || '|' || coalesce(to_char({{ nb_h0 }}, 'FM999999999990.000000'), '')
        || '|' || coalesce(({{ nb_h3 }})::text, '')
        || '|' || coalesce(({{ nb_h4 }})::text, '')
    )
{%- endmacro %}
