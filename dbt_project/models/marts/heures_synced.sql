-- The slots whose SuiviMO row must hold exactly what batigest_heures_map says: pushed,
-- pushable now without collision, not waiting in to_push (so the map's key and values
-- are the slot's), with values recorded, inside the window. The sync's drift stage
-- compares SuiviMO with these rows and restores what a person deleted or edited; a slot
-- outside (rejected, unresolved, gone upstream, a seed-era map row without values) is
-- never restored by the sync. A view: it reads the map as it is when the drift stage
-- runs, after the export and publish (or after a load that changed nothing).

{{ config(materialized='view') }}

with

pushable as (

    select * from {{ ref('int_time_slots_pushable') }}
    where not has_key_collision
        and is_in_window

),

batigest_heures_map as (

    select * from {{ ref('stg_export__batigest_heures_map') }}

),

to_push as (

    select * from {{ ref('to_push') }}

),

synced as (

    select
        batigest_heures_map.id_heure,
        batigest_heures_map.code_chantier,
        batigest_heures_map.code_salarie,
        batigest_heures_map.date_sqlserver,
        batigest_heures_map.nb_h0,
        batigest_heures_map.nb_h3,
        batigest_heures_map.nb_h4,
        batigest_heures_map.pushed_values_hash as values_hash

    from batigest_heures_map
    inner join pushable
        on batigest_heures_map.id_heure = pushable.time_slot_id
    where batigest_heures_map.pushed_values_hash = pushable.values_hash
        and batigest_heures_map.nb_h0 is not null
        and batigest_heures_map.nb_h3 is not null
        and batigest_heures_map.nb_h4 is not null
        and not exists (
            select 1
            from to_push
            where to_push.id_heure = batigest_heures_map.id_heure
        )

)

select * from synced
