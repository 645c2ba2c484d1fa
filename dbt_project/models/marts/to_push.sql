-- What the next export writes to SuiviMO: every pushable slot without a key collision
-- whose key or values differ from what batigest_heures_map says was last pushed.

with

pushable as (

    select * from {{ ref('int_time_slots_pushable') }}
    where not has_key_collision

),

batigest_heures_map as (

    select * from {{ ref('stg_export__batigest_heures_map') }}

),

compared as (

    select
        pushable.time_slot_id as id_heure,
        pushable.code_chantier,
        pushable.code_salarie,
        pushable.date_sqlserver,
        pushable.nb_h0,
        pushable.nb_h3,
        pushable.nb_h4,
        pushable.values_hash,
        case
            when batigest_heures_map.id_heure is null
                then 'new'
            when (
                batigest_heures_map.code_chantier,
                batigest_heures_map.code_salarie,
                batigest_heures_map.date_sqlserver
            ) is distinct from (
                pushable.code_chantier,
                pushable.code_salarie,
                pushable.date_sqlserver
            )
                then 'key_changed'
            when batigest_heures_map.pushed_values_hash is distinct from pushable.values_hash
                then 'values_changed'
        end as change_type,
        batigest_heures_map.code_chantier as old_code_chantier,
        batigest_heures_map.code_salarie as old_code_salarie,
        batigest_heures_map.date_sqlserver as old_date_sqlserver

    from pushable
    left join batigest_heures_map
        on pushable.time_slot_id = batigest_heures_map.id_heure

)

select * from compared
where change_type is not null
