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
        end as gone_since,
        -- HEURES_ON_GONE=delete retracts a deleted slot's row only once a later complete
        -- fetch confirmed it is gone (loader/deletions.py); an un-validated one was seen
        not time_slots.is_deleted or time_slots.gone_confirmed_at is not null as is_retractable

    from batigest_heures_map
    inner join time_slots
        on batigest_heures_map.id_heure = time_slots.time_slot_id
    where time_slots.is_deleted
        -- an unknown status is no un-validation: the row stays (heures_rejected says why)
        or (not time_slots.is_validated and not coalesce(time_slots.has_unknown_status, false))

)

select * from gone
