{#-
    batigest_heures' incremental strategy (`update_insert`): the changed rows are updated
    in place on the unique key, the new ones inserted. Unlike `delete+insert`, a row is
    never replaced, so the columns the model does not write keep their values (the old
    connector's `id serial` stays the slot's id across syncs). Not dbt-postgres' `merge`:
    PostgreSQL has MERGE only from version 15, and refuses it on a table with rules;
    plain UPDATE and INSERT run on every version and fire a site's rules and triggers
    as any writer's would. One writer at a time (the sync lock), so the two statements
    need nothing more.
-#}
{% macro get_incremental_update_insert_sql(arg_dict) %}
    {%- set target, source = arg_dict['target_relation'], arg_dict['temp_relation'] -%}
    {%- set key_name = arg_dict['unique_key'] -%}
    {%- set key = adapter.quote(key_name) -%}
    {%- set names = arg_dict['dest_columns'] | map(attribute='name') | list -%}
    {%- set columns = get_quoted_csv(names) -%}

    update {{ target }} as dbt_target set
    {%- for name in names if name != key_name %}
        {{ adapter.quote(name) }} = dbt_source.{{ adapter.quote(name) }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ source }} as dbt_source
    where dbt_target.{{ key }} = dbt_source.{{ key }};

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ source }} as dbt_source
    where not exists (
        select from {{ target }} as dbt_target where dbt_target.{{ key }} = dbt_source.{{ key }}
    )
{% endmacro %}
