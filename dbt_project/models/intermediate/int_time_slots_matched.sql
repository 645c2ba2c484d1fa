-- Every time slot matched to what names its SuiviMO row: its chantier code (the slot's
-- own project.projectCode, else the project list's, else the one GET /project/{id}
-- answered), whether Batigest's ChantierDef holds it, its salarié (via Salarie.codebs),
-- its latest refusal by the loader, and whether its date is in range and in the window.
-- Nothing is judged here: int_time_slots_checked applies the rules.

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

matched as (

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

final as (

    select
        *,
        -- what the slot's row owes to other tables than its own, and to the settings:
        -- the incremental int_time_slots_resolved takes a slot whose digest moved as
        -- changed (a Salarie given its codebs, a project renamed or gone from the list,
        -- a chantier closed, a new HEURES_MAX_MINUTES)
        md5(row(
            project_code, project_code_source, project_lookup_status, is_chantier_check_on,
            is_known_chantier, listed_codes, n_project_codes, n_project_listings,
            salarie_code, n_salaries, salarie_codes, quarantine_reason, {{ transform_key() }}
        )::text) as references_hash

    from matched

)

select * from final
