-- Every time slot with the first rule it fails, if any (unresolved_reason), and the
-- same in words, naming the value at fault (unresolved_detail): a bad record, then the
-- plausibility rules, then what it could not be matched to.

with

matched as (

    select * from {{ ref('int_time_slots_matched') }}

),

checked as (

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
            -- plausibility rules: what may reach the payroll (docs/OPERATIONS.md)
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

    from matched

)

select * from checked
