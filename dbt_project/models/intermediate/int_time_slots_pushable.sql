-- The slots that belong in SuiviMO (VALIDATED, still present upstream, resolved), each
-- with its SuiviMO key and whether another slot would hold the same key after the next
-- export: SuiviMO has no unique key, so two slots on one key would write one row twice.

-- `not materialized`: in a `with recursive` every CTE read twice is materialized, and the
-- planner then guesses a few hundred rows where there are 168k (100k slots): sorts and
-- merge joins of the whole set; inlined, it plans with the tables' own statistics.
with recursive

resolved as not materialized (

    select * from {{ ref('int_time_slots_resolved') }}

),

batigest_heures_map as not materialized (

    select * from {{ ref('stg_export__batigest_heures_map') }}

),

pushable as not materialized (

    select *
    from resolved
    where is_validated
        and not is_deleted
        and resolution_status = 'resolved'

),

gone as not materialized (

    -- mapped slots deleted or un-validated upstream (heures_gone): they give their row up,
    -- and a slot landing on its key adopts it (the seed updates a row found at the key)
    select time_slot_id
    from resolved
    where is_deleted
        or (not is_validated and not coalesce(has_unknown_status, false))

),

held_keys as (

    -- the key each slot holds once the next export is done: a pushable slot its current
    -- key; any other mapped slot still VALIDATED upstream (unresolved for now) keeps the
    -- row it last wrote
    select time_slot_id, code_chantier, code_salarie, date_sqlserver
    from pushable

    union all

    select id_heure, code_chantier, code_salarie, date_sqlserver
    from batigest_heures_map
    where not exists (
        select 1
        from pushable
        where pushable.time_slot_id = batigest_heures_map.id_heure
    )
        and not exists (
            select 1
            from gone
            where gone.time_slot_id = batigest_heures_map.id_heure
        )

),

shared_key_counts as (

    -- the keys held twice (rare), found without sorting every key: the holders' list
    -- below is an ordered aggregate, which PostgreSQL computes by sorting its input
    select code_chantier, code_salarie, date_sqlserver
    from held_keys
    group by code_chantier, code_salarie, date_sqlserver
    having count(*) > 1

),

shared_keys as (

    select
        held_keys.code_chantier,
        held_keys.code_salarie,
        held_keys.date_sqlserver,
        string_agg(held_keys.time_slot_id, ', ' order by held_keys.time_slot_id) as holders

    from held_keys
    inner join shared_key_counts
        on held_keys.code_chantier = shared_key_counts.code_chantier
        and held_keys.code_salarie = shared_key_counts.code_salarie
        and held_keys.date_sqlserver = shared_key_counts.date_sqlserver
    group by held_keys.code_chantier, held_keys.code_salarie, held_keys.date_sqlserver

),

blocked (time_slot_id, held_by) as (

    -- a slot whose key another holds, then, to a fixed point: a blocked slot is not
    -- written, so its row stays at the key it was mapped to, and a slot moving onto that
    -- key is blocked in turn (the exporter decides the same way; `union` ends the loop)
    select pushable.time_slot_id, null::text as held_by
    from pushable
    inner join shared_keys
        on pushable.code_chantier = shared_keys.code_chantier
        and pushable.code_salarie = shared_keys.code_salarie
        and pushable.date_sqlserver = shared_keys.date_sqlserver

    union

    select pushable.time_slot_id, blocked.time_slot_id as held_by
    from blocked
    inner join batigest_heures_map
        on blocked.time_slot_id = batigest_heures_map.id_heure
    inner join pushable
        on pushable.code_chantier = batigest_heures_map.code_chantier
        and pushable.code_salarie = batigest_heures_map.code_salarie
        and pushable.date_sqlserver = batigest_heures_map.date_sqlserver
        and pushable.time_slot_id <> blocked.time_slot_id

),

held_by_blocked as (

    select
        time_slot_id,
        string_agg(distinct held_by, ', ' order by held_by) as holders

    from blocked
    where held_by is not null
    group by time_slot_id

),

final as (

    select
        pushable.time_slot_id,
        pushable.is_in_window,
        pushable.code_chantier,
        pushable.code_salarie,
        pushable.date_sqlserver,
        pushable.nb_h0,
        pushable.nb_h3,
        pushable.nb_h4,
        pushable.values_hash,
        coalesce(shared_keys.holders, held_by_blocked.holders) is not null as has_key_collision,
        'SuiviMO key (' || pushable.code_chantier || ', ' || pushable.code_salarie
        || ', ' || to_char(pushable.date_sqlserver, 'YYYY-MM-DD HH24:MI') || ') '
        || case
            when shared_keys.holders is not null
                then 'held by id_heure ' || shared_keys.holders
            when held_by_blocked.holders is not null
                then 'still held by id_heure ' || held_by_blocked.holders
                    || ', whose own move is blocked'
        end as collision_detail

    from pushable
    left join shared_keys
        on pushable.code_chantier = shared_keys.code_chantier
        and pushable.code_salarie = shared_keys.code_salarie
        and pushable.date_sqlserver = shared_keys.date_sqlserver
    left join held_by_blocked
        on pushable.time_slot_id = held_by_blocked.time_slot_id

)

select * from final
