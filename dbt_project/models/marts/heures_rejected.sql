-- Every VALIDATED slot of the import window that cannot be pushed, with its reason.
-- Nothing here is final: each run recomputes it, and a slot leaves as soon as it
-- resolves (a Salarie gets its codebs, a project its code, …).

with

resolved as (

    select * from {{ ref('int_time_slots_resolved') }}

),

pushable as (

    select * from {{ ref('int_time_slots_pushable') }}

),

quarantined as (

    select * from {{ ref('int_time_slots_quarantined') }}

),

unresolved as (

    select
        time_slot_id as id_heure,
        unresolved_reason as reason,
        unresolved_detail as detail,
        2 as priority

    from resolved
    -- a status that is not exactly a known one is reported too, whatever it looks like
    where (is_validated or unresolved_reason = 'unknown_status')
        and not is_deleted
        and is_in_window
        and resolution_status = 'unresolved'

),

collisions as (

    select
        time_slot_id as id_heure,
        'key_collision' as reason,
        collision_detail as detail,
        3 as priority

    from pushable
    where has_key_collision
        and is_in_window

),

refused_by_loader as (

    -- the latest version of these slots never reached time_slots; their status is read
    -- from the refused payload when possible, and an unknown one may well be VALIDATED
    select
        time_slot_id as id_heure,
        -- the loader's plausibility refusals keep their own name
        case
            when quarantine_reason = 'start_outside_window' then quarantine_reason
            else 'bad_record'
        end as reason,
        'refused by the loader: ' || quarantine_reason as detail,
        1 as priority

    from quarantined
    where coalesce(management_status, 'VALIDATED') = 'VALIDATED'
        and is_in_window

),

candidates as (

    select * from unresolved
    union all
    select * from collisions
    union all
    select * from refused_by_loader

),

final as (

    -- one row per slot: its most telling reason
    select distinct on (id_heure)
        id_heure,
        reason,
        detail

    from candidates
    order by id_heure, priority

)

select * from final
