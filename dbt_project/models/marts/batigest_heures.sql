-- The seed's table, for the people and queries that know it: one row per time slot
-- ever loaded (deleted upstream too, as the seed never removed a row), in local time,
-- `total_heure` in minutes as the seed stored it, and `sync` telling whether SuiviMO
-- holds exactly the slot's current values.
--
-- Incremental, updated in place (the rows that changed, updated or inserted on
-- id_heure): the table is never dropped, so the views users build on it survive every
-- sync, and a changed row is updated, not replaced, so the columns the model does not
-- write (the old connector's `id serial`, adopted in place by
-- batisync/transform/adoption) keep their values (macros/incremental_strategies.sql).
-- Never dropped: `full_refresh: false` keeps `dbt build --full-refresh` and
-- `batisync sync --full-refresh` from dropping it (and the views on it).
--
-- Incremental in its inputs too (docs/INCREMENTAL.md): in a sync, only the slots whose
-- resolved row was written since the last complete sync (`written_since`, as the
-- limited tests read them) or whose map row may have moved since the last build (a
-- bucket of the map's digest, macros/map_digest.sql) are compared with their row.

{{
    config(
        materialized=(
            'view' if var('marts_materialized', 'table') == 'view' else 'incremental'
        ),
        unique_key='id_heure',
        incremental_strategy='update_insert',
        on_schema_change='append_new_columns',
        full_refresh=false,
        pre_hook=["{{ stage_map_digest() }}"],
        post_hook=["{{ record_map_digest() }}", "{{ index_unique_key() }}"],
    )
}}

{#- filtered in a sync (a since generation), on a table built before, whose map digest
    was recorded; never under --full-refresh (every slot is compared then) #}
{%- set since = since_generation() if execute else none %}
{%- set filtered = execute and is_incremental() and since is not none
    and not flags.FULL_REFRESH and map_digest_recorded() %}

{%- set written_columns = [
    'date_debut', 'date_fin', 'id_utilisateur', 'id_projet', 'status_management',
    'total_heure', 'panier', 'trajet', 'code_projet', 'sync', 'total_heures_decimales',
    'supprime_le',
] %}

with

batigest_heures_map as (

    select * from {{ ref('stg_export__batigest_heures_map') }}

),

{%- if filtered %}

moved_map_buckets as (

    select coalesce(map_now.bucket, recorded.bucket) as bucket
    from {{ map_digest_now() }} as map_now
    full join {{ map_digest_relation() }} as recorded
        on map_now.bucket = recorded.bucket
    where map_now.n is distinct from recorded.n
        or map_now.digest is distinct from recorded.digest

),
{%- endif %}

resolved as (

    select * from {{ ref('int_time_slots_resolved') }}
    {%- if filtered %}
    where written_since is null
        or written_since >= {{ since | int }}
        -- an array, not a subquery: the three conditions are index scans (a bitmap or)
        or {{ map_bucket('time_slot_id') }} = any(array(select bucket from moved_map_buckets))
    {%- endif %}

),

final as (

    select
        resolved.time_slot_id as id_heure,
        resolved.started_at_local as date_debut,
        resolved.ended_at_local as date_fin,
        resolved.user_id as id_utilisateur,
        resolved.project_id as id_projet,
        resolved.management_status as status_management,
        -- minutes, as the seed's numeric(5,2) held totalTimeMinutes
        round(resolved.total_minutes, 2) as total_heure,
        resolved.has_packed_lunch as panier,
        resolved.has_home_to_work_journey as trajet,
        resolved.project_code as code_projet,
        coalesce(batigest_heures_map.pushed_values_hash = resolved.values_hash, false) as sync,
        -- beyond the seed's columns
        resolved.total_hours as total_heures_decimales,
        resolved.deleted_at as supprime_le

    from resolved
    left join batigest_heures_map
        on resolved.time_slot_id = batigest_heures_map.id_heure

),

changed as (

    select final.*
    from final
    {% if is_incremental() %}
    -- only the rows that differ, so a sync rewrites what changed and nothing else (the
    -- current row may hold more columns than the model writes: `id`, a site's own);
    -- column by column, cheaper than two jsonb documents per slot; a column the table
    -- lacks yet (on_schema_change adds it after this select) makes every row differ
    {%- set present = adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
    left join {{ this }} as current_row
        on final.id_heure = current_row.id_heure
    where current_row.id_heure is null
        {%- for column in written_columns %}
        {%- if column in present %}
        or current_row.{{ column }} is distinct from final.{{ column }}
        {%- else %}
        or true
        {%- endif %}
        {%- endfor %}
    {% endif %}

)

select * from changed
