-- Slots that wrote a SuiviMO row and should no longer be there: deleted upstream, or
-- no longer VALIDATED. The exporter's HEURES_ON_GONE policy decides what to do with
-- them (keep the row, or delete it and its map row).

with

batigest_heures_map as (

    select * from {{ ref('stg_export__batigest_heures_map') }}

),

time_slots as (

    select * from {{ ref('stg_batisimply__time_slots') }}

),

gone as (

    select
        batigest_heures_map.id_heure,
        batigest_heures_map.code_chantier,
        batigest_heures_map.code_salarie,
        batigest_heures_map.date_sqlserver,
        case
            when time_slots.is_deleted then 'deleted_upstream'
            else 'unvalidated'
        end as reason,
        case
            when time_slots.is_deleted then time_slots.deleted_at
            else time_slots.fetched_at
        end as gone_since

    from batigest_heures_map
    inner join time_slots
        on batigest_heures_map.id_heure = time_slots.time_slot_id
    where time_slots.is_deleted
        or not time_slots.is_validated

)

select * from gone
