{#-
    `select` of the columns a staging model reads from a raw table (owned by the loader),
    each one null when the table or the column does not exist yet: before the loader's
    first run, `dbt build` then works on an empty database and gives empty models,
    without dbt ever creating the loader's tables. Once the loader has run, this is
    `select <columns> from <source>`. In a unit test the source is the test's fixture.
-#}
{% macro select_source_columns(source_name, table_name) %}
    {%- set relation = source(source_name, table_name) -%}
    {%- set columns = raw_source_shapes()[source_name][table_name] -%}
    {%- if not execute or model.resource_type == 'unit_test' -%}
        {{ return('select * from ' ~ relation) }}
    {%- endif -%}
    {%- set existing = load_relation(relation) -%}
    {%- set present = [] -%}
    {%- if existing is not none -%}
        {%- for column in adapter.get_columns_in_relation(existing) -%}
            {%- do present.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    select
    {%- for name, data_type in columns.items() %}
        {% if name in present -%}
            {{ adapter.quote(name) }}
        {%- else -%}
            cast(null as {{ data_type }}) as {{ adapter.quote(name) }}
        {%- endif -%}
        {{- "," if not loop.last }}
    {%- endfor %}
    {% if existing is not none -%}
    from {{ relation }}
    {%- else -%}
    where false  -- {{ relation }} does not exist yet: the loader has not run
    {%- endif %}
{%- endmacro %}


{#- The columns the staging models read from each raw table, with the types of docs/ARCHITECTURE.md. -#}
{% macro raw_source_shapes() %}
    {{ return({
        'batisimply': {
            'time_slots': {
                'id': 'text',
                'start_date': 'text',
                'end_date': 'text',
                'user__id': 'text',
                'user__first_name': 'text',
                'user__last_name': 'text',
                'project__id': 'bigint',
                'project__project_code': 'text',
                'management_status': 'text',
                'total_time_minutes': 'double precision',
                'has_packed_lunch': 'boolean',
                'has_home_to_work_journey': 'boolean',
                '_fetched_at': 'timestamp with time zone',
                '_deleted_at': 'timestamp with time zone',
                '_gone_confirmed_at': 'timestamp with time zone',
                '_generation': 'bigint',
            },
            'projects': {
                'id': 'bigint',
                'project_code': 'text',
                'project_name': 'text',
            },
            'project_lookups': {
                'id': 'bigint',
                'project_code': 'text',
                'project_name': 'text',
                'lookup_status': 'text',
            },
            'quarantine': {
                'quarantine_key': 'text',
                'resource': 'text',
                'record_id': 'text',
                'reason': 'text',
                'payload': 'text',
                'management_status': 'text',
                'first_seen_at': 'timestamp with time zone',
                'last_seen_at': 'timestamp with time zone',
            },
        },
        'batigest': {
            'salarie': {
                'code': 'text',
                'nom': 'text',
                'codebs': 'text',
            },
            'chantiers': {
                'code': 'text',
            },
            'chantier_check': {
                'is_on': 'boolean',
                'detail': 'text',
            },
        },
    }) }}
{% endmacro %}
