-- Time slots whose latest version the loader refused: one row per slot id still
-- "current" in the quarantine, i.e. no valid version of that id was fetched since.

with

quarantine as (

    select * from {{ ref('stg_batisimply__quarantine') }}
    where resource = 'time_slots'
        and record_id is not null

),

time_slots as (

    select * from {{ ref('stg_batisimply__time_slots') }}

),

latest_refusals as (

    select distinct on (record_id)
        record_id as time_slot_id,
        reason as quarantine_reason,
        management_status,
        first_seen_at,
        last_seen_at

    from quarantine
    order by record_id, last_seen_at desc, quarantine_key

),

current_refusals as (

    select
        *,
        last_seen_at >= now() - interval '1 day' * {{ var('window_days') | int }} as is_in_window

    from latest_refusals
    where not exists (
        select 1
        from time_slots
        where time_slots.time_slot_id = latest_refusals.time_slot_id
            and time_slots.fetched_at >= latest_refusals.last_seen_at
    )

)

select * from current_refusals
