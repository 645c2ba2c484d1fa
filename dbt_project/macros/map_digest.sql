{#-
    What batigest_heures reads of the map: each slot's pushed_values_hash (its `sync`).
    The map's rows are folded by slot into MAP_BUCKETS buckets: per bucket, a count and a
    sum of a 64-bit hash of (slot, pushed hash). batigest_heures' post-hook records them
    with the rows it wrote; a bucket whose pair moved since holds a slot whose map row
    was written, changed or deleted since, whoever did it (the export, the drift stage,
    `reconcile --repair`, a retract, a hand edit), so the next build reconsiders the
    bucket's slots, not the others (docs/INCREMENTAL.md).
-#}

{% macro map_bucket(column) -%}
    (hashtext({{ column }}) & 4095)
{%- endmacro %}


{% macro map_bucket_digests(map_relation) -%}
    select
        {{ map_bucket('id_heure') }} as bucket,
        count(*) as n,
        sum(hashtextextended(coalesce(pushed_values_hash, ''), hashtext(id_heure))) as digest
    from {{ map_relation }}
    group by 1
{%- endmacro %}


{#- Where batigest_heures keeps the buckets its last build read. -#}
{% macro map_digest_relation() -%}
    {{ adapter.quote(this.schema) }}.batigest_heures_map_digest
{%- endmacro %}


{#- The buckets of the map now, computed once per build by the pre-hook (a temp table of
    the build's session, read by the model and kept by the post-hook). -#}
{% macro map_digest_now() -%}
    pg_temp.batigest_heures_map_now
{%- endmacro %}


{#- Whether batigest_heures has recorded the map's buckets yet. -#}
{% macro map_digest_recorded() -%}
    {%- set found = adapter.get_relation(
        database=this.database, schema=this.schema, identifier='batigest_heures_map_digest',
    ) -%}
    {{- return(found is not none) -}}
{%- endmacro %}


{#- batigest_heures' pre-hook: the map's buckets now. Nothing for a view. -#}
{% macro stage_map_digest() -%}
    {%- if config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    drop table if exists {{ map_digest_now() }};
    create temp table batigest_heures_map_now as
    {{ map_bucket_digests(ref('stg_export__batigest_heures_map')) }}
{%- endmacro %}


{#- batigest_heures' post-hook, in the model's own transaction: the buckets the build
    read, kept for the next. Nothing for a view. -#}
{% macro record_map_digest() -%}
    {%- if config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    create table if not exists {{ map_digest_relation() }} (
        bucket int primary key, n bigint not null, digest numeric not null
    );
    delete from {{ map_digest_relation() }};
    insert into {{ map_digest_relation() }} select * from {{ map_digest_now() }}
{%- endmacro %}


{#- int_time_slots_resolved's post-hook: batigest_heures reads the slots of the moved
    buckets through this index, not the whole table. Nothing for a view. -#}
{% macro index_map_bucket() -%}
    {%- if config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    create index if not exists int_time_slots_resolved_map_bucket
        on {{ this }} ({{ map_bucket('time_slot_id') }})
{%- endmacro %}


{#- batigest_heures' post-hook: its update and insert find the rows they compare by
    id_heure through an index (the table, adopted or not, may have none). -#}
{% macro index_unique_key() -%}
    {%- if config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    create index if not exists {{ this.identifier }}_id_heure on {{ this }} (id_heure)
{%- endmacro %}
