{#-
    on-run-start of the staging targets: the exporter's batigest_heures_map, so that
    `dbt build` works on an empty database (the models read it). Its DDL is the one of
    docs/ARCHITECTURE.md, in the target schema (DBT_SCHEMA); the columns added after the
    seed's four are added to a map the seed created, so an upgraded installation keeps
    its mapping. The raw tables are never created here: they belong to the loader (see
    select_source_columns for how the models read them before its first run).
-#}
{% macro prepare_staging() %}
    {%- if not execute or target.type != 'postgres' or target.name.startswith('batigest') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set statements = ensure_table_columns(
        target.schema, 'batigest_heures_map', batigest_heures_map_columns()
    ) -%}
    {%- do statements.insert(0, batigest_heures_map_ddl(target.schema)) -%}
    {%- do statements.append(heures_rejected_seen_ddl(target.schema)) -%}
    {{ return(statements | join(';\n')) }}
{% endmacro %}


{#- Exactly the DDL of docs/ARCHITECTURE.md (the exporter creates the same table). -#}
{% macro batigest_heures_map_ddl(schema_name) -%}
create schema if not exists {{ adapter.quote(schema_name) }};
create table if not exists {{ adapter.quote(schema_name) }}.batigest_heures_map (
  id_heure varchar primary key,
  code_chantier varchar not null,
  code_salarie varchar not null,
  date_sqlserver timestamp not null,
  nb_h0 numeric, nb_h3 integer, nb_h4 integer,
  values_hash varchar,
  pushed_at timestamptz,
  run_id varchar
)
{%- endmacro %}


{#- The map's columns beyond the seed's four (id_heure, code_chantier, code_salarie, date_sqlserver). -#}
{% macro batigest_heures_map_columns() %}
    {{ return({
        'nb_h0': 'numeric',
        'nb_h3': 'integer',
        'nb_h4': 'integer',
        'values_hash': 'varchar',
        'pushed_at': 'timestamptz',
        'run_id': 'varchar',
    }) }}
{% endmacro %}


{#- `alter table` adding the `columns` that `schema_name.table_name` lacks; none when all are there. -#}
{% macro ensure_table_columns(schema_name, table_name, columns) %}
    {%- set statements = [] -%}
    {%- set relation = adapter.get_relation(
        database=target.database, schema=schema_name, identifier=table_name
    ) -%}
    {%- if relation is not none -%}
        {%- set existing = [] -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do existing.append(column.name | lower) -%}
        {%- endfor -%}
        {%- set additions = [] -%}
        {%- for name, data_type in columns.items() if name not in existing -%}
            {%- do additions.append('add column if not exists ' ~ adapter.quote(name) ~ ' ' ~ data_type) -%}
        {%- endfor -%}
        {%- if additions -%}
            {%- do statements.append('alter table ' ~ relation ~ ' ' ~ additions | join(', ')) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(statements) }}
{% endmacro %}


{#- The rejections the last sync reported (kept by the sync: batisync/export/rejections.py,
    same DDL), so heures_rejected knows which are new and since when each one stands. -#}
{% macro heures_rejected_seen_ddl(schema_name) -%}
create table if not exists {{ adapter.quote(schema_name) }}.heures_rejected_seen (
  id_heure varchar primary key,
  reason varchar not null,
  first_rejected_at timestamptz not null,
  last_rejected_at timestamptz not null
)
{%- endmacro %}
