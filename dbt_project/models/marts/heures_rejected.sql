-- Every VALIDATED slot of the import window that cannot be pushed, with its reason.
-- Nothing here is final: each run recomputes it, and a slot leaves as soon as it
-- resolves (a Salarie gets its codebs, a project its code, …). Each row carries what
-- the person fixing the data needs (who, when, which project) and whether the last
-- sync already reported it (heures_rejected_seen, kept by the sync).

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

projects as (

    select * from {{ ref('stg_batisimply__projects') }}

),

salaries as (

    select * from {{ ref('stg_batigest__salaries') }}

),

seen as (

    select * from {{ ref('stg_export__heures_rejected_seen') }}

),

project_names as (

    -- one row per project id, even if the API listed one twice
    select
        project_id,
        min(project_code) as project_code,
        min(project_name) as project_name

    from projects
    group by project_id

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

rejected as (

    -- one row per slot: its most telling reason
    select distinct on (id_heure)
        id_heure,
        reason,
        detail

    from candidates
    order by id_heure, priority

),

final as (

    select
        rejected.id_heure,
        rejected.reason,
        rejected.detail,
        -- from the resolved slot (a table) rather than the staging view, which the
        -- join would evaluate for every raw slot; a slot the loader refused outright
        -- has no row in either
        coalesce(resolved.user_name, salaries.salarie_nom) as employee_name,
        resolved.user_id,
        resolved.salarie_code,
        resolved.started_at_local::date as work_date,
        resolved.started_at_local,
        resolved.ended_at_local,
        resolved.total_hours,
        resolved.project_id,
        coalesce(resolved.project_code, project_names.project_code) as project_code,
        project_names.project_name,
        -- the same slot and reason in the last sync's report: not new, and standing since
        coalesce(seen.first_rejected_at, {{ current_timestamp() }}) as first_rejected_at,
        seen.id_heure is null as is_new

    from rejected
    left join resolved
        on rejected.id_heure = resolved.time_slot_id
    left join project_names
        on resolved.project_id = project_names.project_id
    left join salaries
        on resolved.salarie_code = salaries.salarie_code
    left join seen
        on rejected.id_heure = seen.id_heure
        and rejected.reason = seen.reason

)

select * from final
