-- The seed's table, for the people and queries that know it: one row per time slot
-- present upstream, in local time, with `sync` telling whether SuiviMO holds exactly
-- its current values.

with

resolved as (

    select * from {{ ref('int_time_slots_resolved') }}

),

batigest_heures_map as (

    select * from {{ ref('stg_export__batigest_heures_map') }}

),

final as (

    select
        resolved.time_slot_id as id_heure,
        resolved.started_at_local as date_debut,
        resolved.ended_at_local as date_fin,
        resolved.user_id as id_utilisateur,
        resolved.project_id as id_projet,
        resolved.management_status as status_management,
        resolved.total_hours as total_heure,
        resolved.has_packed_lunch as panier,
        resolved.has_home_to_work_journey as trajet,
        resolved.project_code as code_projet,
        coalesce(batigest_heures_map.pushed_values_hash = resolved.values_hash, false) as sync

    from resolved
    left join batigest_heures_map
        on resolved.time_slot_id = batigest_heures_map.id_heure
    where not resolved.is_deleted

)

select * from final
