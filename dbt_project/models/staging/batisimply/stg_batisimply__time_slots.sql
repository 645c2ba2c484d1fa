with

source as (

    {{ select_source_columns('batisimply', 'time_slots') }}

),

typed as (

    select
        id::text as time_slot_id,
        user__id::text as user_id,
        -- the employee's name as the API gives it (`user.firstName` / `user.lastName`)
        nullif(trim(concat_ws(' ', user__first_name::text, user__last_name::text)), '')
            as user_name,
        project__id::bigint as project_id,
        -- the slot's own `project.projectCode`, when the API embeds it
        nullif(trim(project__project_code::text), '') as embedded_project_code,
        management_status::text as management_status,
        start_date::text as start_date_utc,
        end_date::text as end_date_utc,
        {{ safe_iso_timestamptz('start_date') }} as started_at,
        {{ safe_iso_timestamptz('end_date') }} as ended_at,
        total_time_minutes::numeric as total_minutes,
        coalesce(has_packed_lunch, false) as has_packed_lunch,
        coalesce(has_home_to_work_journey, false) as has_home_to_work_journey,
        _fetched_at as fetched_at,
        _deleted_at as deleted_at,
        _gone_confirmed_at as gone_confirmed_at,
        _generation::bigint as raw_generation

    from source

),

final as (

    select
        time_slot_id,
        user_id,
        user_name,
        project_id,
        embedded_project_code,
        management_status,
        coalesce(management_status = 'VALIDATED', false) as is_validated,
        -- a status outside the known values (exactly, case included) is reported, and
        -- taken neither as VALIDATED nor as an un-validation
        coalesce(management_status not in ({{ known_statuses_list() }}), false)
            as has_unknown_status,
        start_date_utc,
        end_date_utc,
        started_at,
        ended_at,
        {{ utc_to_local_minute('started_at') }} as started_at_local,
        {{ utc_to_local_minute('ended_at') }} as ended_at_local,
        total_minutes,
        round(total_minutes / 60, 6) as total_hours,
        has_packed_lunch,
        has_home_to_work_journey,
        fetched_at,
        deleted_at,
        deleted_at is not null as is_deleted,
        gone_confirmed_at,
        raw_generation

    from typed

)

select * from final
