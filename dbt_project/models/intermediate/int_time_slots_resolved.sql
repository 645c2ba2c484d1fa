-- Every time slot with what SuiviMO would receive for it: its chantier (the slot's own
-- project.projectCode, else the project list's, else the one GET /project/{id}
-- answered), its salarié (via Salarie.codebs), the six SuiviMO fields and their hash,
-- or why it cannot be resolved.

with

time_slots as (

    select * from {{ ref('stg_batisimply__time_slots') }}

),

projects as (

    select * from {{ ref('stg_batisimply__projects') }}

),

salaries as (

    select * from {{ ref('stg_batigest__salaries') }}

),

quarantined as (

    select * from {{ ref('int_time_slots_quarantined') }}

),

project_lookups as (

    select * from {{ ref('stg_batisimply__project_lookups') }}

),

chantiers as (

    select * from {{ ref('stg_batigest__chantiers') }}

),

chantier_check as (

    select * from {{ ref('stg_batigest__chantier_check') }}

),

project_codes as (

    -- one row per project id, even if the API listed one twice
    select
        project_id,
        min(project_code) as project_code,
        count(distinct project_code) as n_project_codes,
        string_agg(distinct left(project_code, 20), ', ' order by left(project_code, 20))
            as listed_codes,
        count(*) as n_listings

    from projects
    group by project_id

),

salaries_by_user as (

    -- one row per BatiSimply user: several Salarie sharing a codebs are ambiguous
    select
        batisimply_user_id,
        min(salarie_code) as salarie_code,
        count(*) as n_salaries,
        string_agg(salarie_code, ', ' order by salarie_code) as salarie_codes

    from salaries
    where batisimply_user_id is not null
    group by batisimply_user_id

),

chantier_check_state as (

    -- on only when the loader read a non-empty ChantierDef
    select coalesce(bool_or(is_on), false) as is_chantier_check_on
    from chantier_check

),

joined as (

    select
        time_slots.*,
        case
            when time_slots.embedded_project_code is not null
                then time_slots.embedded_project_code
            when project_codes.n_project_codes = 1
                then project_codes.project_code
            when coalesce(project_codes.n_project_codes, 0) = 0
                then project_lookups.project_code
        end as project_code,
        case
            when time_slots.embedded_project_code is not null then 'slot'
            when project_codes.n_project_codes = 1 then 'project_list'
            when project_lookups.project_code is not null
                and coalesce(project_codes.n_project_codes, 0) = 0
                then 'project_by_id'
        end as project_code_source,
        project_lookups.lookup_status as project_lookup_status,
        chantier_check_state.is_chantier_check_on,
        chantiers.chantier_key is not null as is_known_chantier,
        project_codes.listed_codes,
        coalesce(project_codes.n_project_codes, 0) as n_project_codes,
        coalesce(project_codes.n_listings, 0) as n_project_listings,
        salaries_by_user.salarie_code,
        coalesce(salaries_by_user.n_salaries, 0) as n_salaries,
        salaries_by_user.salarie_codes,
        quarantined.quarantine_reason,
        -- far from year 1 and year 10,000 (the loader bounds new records the same way)
        coalesce(
            time_slots.started_at >= '2000-01-01'::timestamptz
            and time_slots.started_at < '2100-01-01'::timestamptz,
            true
        ) as is_date_in_range,
        coalesce(
            time_slots.started_at_local >= {{ window_start_date() }},
            time_slots.fetched_at >= now() - interval '1 day' * {{ var('window_days') | int }},
            false
        ) as is_in_window

    from time_slots
    left join project_codes
        on time_slots.project_id = project_codes.project_id
    left join salaries_by_user
        on lower(time_slots.user_id) = salaries_by_user.batisimply_user_id
    left join quarantined
        on time_slots.time_slot_id = quarantined.time_slot_id
    left join project_lookups
        on time_slots.project_id = project_lookups.project_id
    cross join chantier_check_state
    left join chantiers
        on upper(rtrim(coalesce(
            time_slots.embedded_project_code, project_codes.project_code,
            project_lookups.project_code
        ))) = chantiers.chantier_key

),

resolved as (

    select
        *,
        case
            when quarantine_reason is not null
                or started_at_local is null
                or not is_date_in_range
                or total_minutes is null
                or total_minutes < 0
                or user_id is null
                then 'bad_record'
            -- plausibility rules: what may reach the payroll (README)
            when has_unknown_status
                then 'unknown_status'
            when total_minutes > {{ var('max_minutes') | float }}
                then 'too_many_minutes'
            when ended_at <= started_at
                then 'end_not_after_start'
            when project_code is null and n_project_codes > 1
                then 'project_two_codes'
            when project_code is null
                then 'no_project_code'
            when length(project_code) > {{ var('code_chantier_max_length') | int }}
                then 'code_too_long'
            when is_chantier_check_on and not is_known_chantier
                then 'unknown_chantier'
            when salarie_code is null or n_salaries > 1
                then 'unknown_salarie'
            when length(salarie_code) > {{ var('code_salarie_max_length') | int }}
                then 'code_too_long'
        end as unresolved_reason,
        case
            when quarantine_reason is not null
                then 'latest version quarantined by the loader: ' || quarantine_reason
            when started_at_local is null
                then 'start_date is not an ISO-8601 UTC timestamp: '
                    || coalesce(start_date_utc, 'null')
            when not is_date_in_range
                then 'start_date is outside 2000..2099: ' || left(start_date_utc, 40)
            when total_minutes is null
                then 'total_time_minutes is missing'
            when total_minutes < 0
                then 'total_time_minutes is negative: ' || total_minutes::text
            when user_id is null
                then 'user.id is missing'
            when has_unknown_status
                then 'managementStatus ' || left(management_status, 40)
                    || ' is none of {{ known_statuses_list() | replace("'", "") }}'
            when total_minutes > {{ var('max_minutes') | float }}
                then 'totalTimeMinutes ' || left(total_minutes::text, 40)
                    || ' is more than {{ var("max_minutes") }} (HEURES_MAX_MINUTES)'
            when ended_at <= started_at
                then 'endDate ' || end_date_utc || ' is not after startDate ' || start_date_utc
            when project_code is null and n_project_codes > 1
                then 'project ' || project_id::text || ' is listed with several projectCode: '
                    || left(listed_codes, 80)
            when project_code is null and project_id is null
                then 'the slot has no project'
            when project_code is null and n_project_listings = 0
                then 'project ' || project_id::text || ' is not in the BatiSimply project list'
                    || case project_lookup_status
                        when 'not_found' then ' and GET /project/' || project_id::text
                            || ' answered 404'
                        when 'found' then ' and GET /project/' || project_id::text
                            || ' gives no projectCode'
                        when 'refused' then ' and the loader refused the projectCode that GET /project/'
                            || project_id::text || ' answered (see raw_batisimply.quarantine)'
                        else ''
                    end
            when project_code is null
                then 'project ' || project_id::text || ' has no projectCode'
            when length(project_code) > {{ var('code_chantier_max_length') | int }}
                then 'projectCode ' || left(project_code, 20)
                    || case when length(project_code) > 20 then '…' else '' end
                    || ' of project ' || project_id::text || ' is longer than SuiviMO.CodeChantier ('
                    || {{ var('code_chantier_max_length') | int }} || ' characters)'
            when is_chantier_check_on and not is_known_chantier
                then 'projectCode ' || project_code || ' of project ' || project_id::text
                    || ' is not a Batigest chantier (ChantierDef.Code)'
            when n_salaries = 0
                then 'no Salarie has codebs = ' || user_id
            when n_salaries > 1
                then 'several Salarie have codebs = ' || user_id || ': ' || salarie_codes
            when length(salarie_code) > {{ var('code_salarie_max_length') | int }}
                then 'Salarie.Code ' || left(salarie_code, 20) || ' is longer than '
                    || 'SuiviMO.CodeSalarie (' || {{ var('code_salarie_max_length') | int }}
                    || ' characters)'
        end as unresolved_detail

    from joined

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

    from resolved

)

select
    *,
    case
        when resolution_status = 'resolved'
            then {{ suivimo_values_hash('code_chantier', 'code_salarie', 'date_sqlserver', 'nb_h0', 'nb_h3', 'nb_h4') }}
    end as values_hash

from final
