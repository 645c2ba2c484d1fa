-- Every time slot with what SuiviMO would receive for it: the six SuiviMO fields and
-- their hash once it passes every rule of int_time_slots_checked (null until then), or
-- why it cannot be resolved.

with

checked as (

    select * from {{ ref('int_time_slots_checked') }}

),

final as (

    select
        time_slot_id,
        user_id,
        project_id,
        management_status,
        is_validated,
        has_unknown_status,
        is_deleted,
        deleted_at,
        fetched_at,
        is_in_window,
        started_at_local,
        ended_at_local,
        total_minutes,
        total_hours,
        has_packed_lunch,
        has_home_to_work_journey,
        project_code,
        project_code_source,
        salarie_code,
        case when unresolved_reason is null then 'resolved' else 'unresolved' end
            as resolution_status,
        unresolved_reason,
        unresolved_detail,
        -- the six SuiviMO fields, null until the slot resolves
        case when unresolved_reason is null then project_code end as code_chantier,
        case when unresolved_reason is null then salarie_code end as code_salarie,
        case when unresolved_reason is null then started_at_local end as date_sqlserver,
        case when unresolved_reason is null then total_hours end as nb_h0,
        case when unresolved_reason is null then has_home_to_work_journey::int end as nb_h3,
        case when unresolved_reason is null then has_packed_lunch::int end as nb_h4

    from checked

)

select
    *,
    case
        when resolution_status = 'resolved'
            then {{ suivimo_values_hash('code_chantier', 'code_salarie', 'date_sqlserver', 'nb_h0', 'nb_h3', 'nb_h4') }}
    end as values_hash

from final
