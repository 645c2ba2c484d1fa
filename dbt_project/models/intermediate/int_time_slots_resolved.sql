-- Every time slot with what SuiviMO would receive for it: the six SuiviMO fields and
-- their hash once it passes every rule of int_time_slots_checked (null until then), or
-- why it cannot be resolved.
--
-- Incremental (docs/INCREMENTAL.md): a sync that passes the staging generation the last
-- complete sync's transform read (macros/incremental.sql) rewrites only the slots whose
-- inputs may have changed since: their raw row was written by a later load (or by one
-- that did not stamp it), what they owe to other tables moved (references_hash, compared
-- only when the references digest recorded with the stored rows moved), or the window's
-- start went past them. Every model of a run reads that same value, so a
-- transform interrupted half-way and run again rewrites the same slots (a merge on
-- time_slot_id: idempotent). Without it every slot is rewritten; new settings or a new
-- dbt project move every slot's references_hash; `batisync sync --full-refresh` rebuilds.

-- depends_on: {{ ref('stg_batisimply__time_slots') }}
-- depends_on: {{ ref('int_time_slots_matched') }}
-- depends_on: {{ ref('int_time_slots_quarantined') }}
-- depends_on: {{ ref('stg_batisimply__projects') }}
-- depends_on: {{ ref('stg_batisimply__project_lookups') }}
-- depends_on: {{ ref('stg_batigest__salaries') }}
-- depends_on: {{ ref('stg_batigest__chantiers') }}
-- depends_on: {{ ref('stg_batigest__chantier_check') }}

{{
    config(
        materialized=(
            'view' if var('marts_materialized', 'table') == 'view' else 'incremental'
        ),
        unique_key='time_slot_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook=[
            "{{ record_references_digest() }}",
            "{{ index_written_since() }}",
            "{{ index_map_bucket() }}",
        ],
    )
}}

{#- filtered only when the stored table has the columns the filter reads (not on the
    first run after an upgrade: every slot is rewritten then, and the columns synced) #}
{%- set since = since_generation() %}
{%- set filtered = false %}
{%- if execute and is_incremental() and since is not none %}
    {%- set stored = adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
    {%- set filtered = 'references_hash' in stored and 'written_since' in stored %}
{%- endif %}
{#- the references digest recorded with the stored rows is today's: no slot's
    references_hash can have moved, so they are not compared (macros/incremental.sql) #}
{%- set references_same = false %}
{%- if filtered %}
    {%- set stored_digest = stored_references_digest() %}
    {%- set references_same = stored_digest is not none
        and stored_digest == current_references_digest() %}
{%- endif %}

{#- the slots to rewrite, as CTEs ending in changed_slots (only when filtered) -#}
{%- set changed_slots_ctes %}
written as (

    -- raw rows a load changed (content or deletion marks) after the last complete run
    select time_slot_id
    from {{ ref('stg_batisimply__time_slots') }}
    where raw_generation is null
        or raw_generation > {{ since | int }}

),

{% if not references_same -%}
references_moved as (

    -- a Salarie, project, lookup, chantier or refusal that names the slot changed
    select matched.time_slot_id
    from {{ ref('int_time_slots_matched') }} as matched
    inner join {{ this }} as stored
        on matched.time_slot_id = stored.time_slot_id
    where matched.references_hash is distinct from stored.references_hash

),

{% endif -%}

window_moved as (

    -- the window's start went past the slot (or its start is unreadable: the window
    -- then goes by when it was fetched, which a load may stamp without a new generation)
    select time_slot_id
    from {{ this }}
    where started_at_local is null
        or is_in_window is distinct from (started_at_local >= {{ window_start_date() }})

),

changed_slots as (

    select time_slot_id from written
    {%- if not references_same %}
    union
    select time_slot_id from references_moved
    {%- endif %}
    union
    select time_slot_id from window_moved

)
{%- endset %}
{#- read at compile time: up to changed_ids_limit() ids become a list of literals, a
    filter PostgreSQL pushes down to the raw rows (the join on changed_slots is made after
    the views are evaluated for every slot: 100 slots cost what 200,000 do); more, and the
    join is as cheap as anything else -#}
{%- set changed_ids = changed_slot_ids(changed_slots_ctes) if filtered else none %}

with

{% if filtered and changed_ids is none -%}
{{ changed_slots_ctes }},

{% endif -%}
checked as (

    select * from {{ ref('int_time_slots_checked') }}
    {%- if changed_ids is not none %}
    where time_slot_id = any({{ text_array(changed_ids) }})
    {%- elif filtered %}
    where time_slot_id in (select time_slot_id from changed_slots)
    {%- endif %}

),

final as (

    select
        time_slot_id,
        user_id,
        user_name,
        project_id,
        management_status,
        is_validated,
        has_unknown_status,
        is_deleted,
        deleted_at,
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
        case when unresolved_reason is null then has_packed_lunch::int end as nb_h4,
        references_hash,
        -- which run wrote the row: its data tests are limited to the rows written since
        -- the last complete sync (macros/changed_rows.sql)
        {{ written_since_value() }}::bigint as written_since

    from checked

)

select
    *,
    case
        when resolution_status = 'resolved'
            then {{ suivimo_values_hash('code_chantier', 'code_salarie', 'date_sqlserver', 'nb_h0', 'nb_h3', 'nb_h4') }}
    end as values_hash

from final
