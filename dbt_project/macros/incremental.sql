{#-
    What the incremental models read from the sync (docs/INCREMENTAL.md). Environment
    variables, not vars: a var that changes on every run would make dbt parse the whole
    project again each time, an env_var only the files that read it.
-#}

{#- The staging generation the last complete sync's transform read, or none: then every
    slot is taken as changed. BATISYNC_SINCE_GENERATION, when set, gives it (tests, a
    hand-made run); a sync sets BATISYNC_SINCE_FROM_TABLE instead and writes the value in
    the one-row table `transform_since` of the target schema before each dbt command
    (orchestrate/wiring.incremental_env): both variables keep one value from run to run,
    so dbt's partial parse re-parses nothing on a second run. -#}
{% macro since_generation() -%}
    {%- set value = env_var('BATISYNC_SINCE_GENERATION', '') | trim -%}
    {%- if value -%}
        {{- return(value | int) -}}
    {%- endif -%}
    {%- if execute and env_var('BATISYNC_SINCE_FROM_TABLE', '') | trim -%}
        {%- set found = run_query(
            'select since_generation from ' ~ adapter.quote(target.schema) ~ '.transform_since'
        ) -%}
        {%- if found.rows | length == 1 and found.rows[0][0] is not none -%}
            {{- return(found.rows[0][0] | int) -}}
        {%- endif -%}
    {%- endif -%}
    {{- return(none) -}}
{%- endmacro %}


{#- True only when the sync wrote in `transform_since` that this run's inputs (the dbt
    project's version, the settings, the window's first day, Batigest's lengths:
    nochange.run_inputs) are those of the last complete sync (orchestrate/since.py).
    False otherwise: a since given by BATISYNC_SINCE_GENERATION (a run by hand, tests),
    a table written before the column existed, nothing executed. The staging tests
    limited to the raw rows written since (macros/changed_rows.sql) read every row
    then: a new test, or a new view, is never checked against the changed rows only. -#}
{% macro since_inputs_unchanged() -%}
    {%- if not execute or env_var('BATISYNC_SINCE_GENERATION', '') | trim
        or not env_var('BATISYNC_SINCE_FROM_TABLE', '') | trim -%}
        {{- return(false) -}}
    {%- endif -%}
    {#- through to_jsonb: a table made by an older sync has no such column -#}
    {%- set found = run_query(
        "select (to_jsonb(t) ->> 'same_inputs')::boolean from "
        ~ adapter.quote(target.schema) ~ '.transform_since as t'
    ) -%}
    {{- return(found.rows | length == 1 and found.rows[0][0] == true) -}}
{%- endmacro %}


{#- As a SQL string literal: the settings and the dbt project version whose change
    changes every slot's row (a new rule, another length of SuiviMO's keys, another time
    zone): int_time_slots_matched puts it in each slot's references_hash, so a change
    rewrites every slot. The window is not in it: int_time_slots_resolved follows the
    window's start slot by slot. -#}
{% macro transform_key() -%}
    {%- set parts = [
        env_var('BATISYNC_PROJECT_VERSION', ''),
        var('timezone'),
        var('max_minutes'),
        var('code_chantier_max_length'),
        var('code_salarie_max_length'),
        var('known_statuses') | join(','),
    ] -%}
    '{{ parts | join("|") | replace("'", "''") }}'
{%- endmacro %}


{#- One digest of everything int_time_slots_matched's references_hash reads besides the
    slot's own row: the reference tables (whole rows: a column read later is covered),
    the slots' current refusals and transform_key(). When it equals the digest recorded
    with int_time_slots_resolved's last build, no slot's references_hash can have moved,
    and the model skips comparing them (the comparison evaluates the matched view over
    every slot). A SQL expression; the small tables are read whole. -#}
{% macro references_digest() -%}
    {%- set tables = [
        ref('stg_batisimply__projects'),
        ref('stg_batisimply__project_lookups'),
        ref('stg_batigest__salaries'),
        ref('stg_batigest__chantiers'),
        ref('stg_batigest__chantier_check'),
    ] -%}
    md5(concat_ws('|', {{ transform_key() }}
    {%- for table in tables %},
        (select md5(coalesce(string_agg(t::text, ',' order by t::text), '')) from {{ table }} as t)
    {%- endfor %},
        (select md5(coalesce(string_agg(
            row(time_slot_id, quarantine_reason)::text, ',' order by time_slot_id, quarantine_reason
        ), '')) from {{ ref('int_time_slots_quarantined') }})
    ))
{%- endmacro %}


{#- Where int_time_slots_resolved keeps the references digest its rows were built with. -#}
{% macro references_digest_relation() -%}
    {{ adapter.quote(this.schema) }}.int_time_slots_resolved_references
{%- endmacro %}


{#- The digest recorded with the stored int_time_slots_resolved, or none (no record yet). -#}
{% macro stored_references_digest() -%}
    {%- set found = adapter.get_relation(
        database=this.database, schema=this.schema,
        identifier='int_time_slots_resolved_references',
    ) -%}
    {%- if found is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set rows = run_query('select digest from ' ~ references_digest_relation()).rows -%}
    {{- return(rows[0][0] if rows | length == 1 else none) -}}
{%- endmacro %}


{#- The references digest of now, read at compile time. -#}
{% macro current_references_digest() -%}
    {{- return(run_query('select ' ~ references_digest()).rows[0][0]) -}}
{%- endmacro %}


{#- int_time_slots_resolved's post-hook, in the model's own transaction: the digest of
    the references its rows now reflect (every slot whose references_hash moved was
    rewritten, or none could move). Nothing for the view materialization. -#}
{% macro record_references_digest() -%}
    {%- if config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    create table if not exists {{ references_digest_relation() }} (
        digest text not null, recorded_at timestamptz not null
    );
    delete from {{ references_digest_relation() }};
    insert into {{ references_digest_relation() }} select {{ references_digest() }}, now()
{%- endmacro %}


{#- The ids `ctes` (SQL CTEs ending in `changed_slots`) selects, read at compile time, or
    none when there are more than var('changed_ids_limit') (or nothing is executed). -#}
{% macro changed_slot_ids(ctes) -%}
    {%- set limit = var('changed_ids_limit') | int -%}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set rows = run_query(
        'with ' ~ ctes ~ ' select time_slot_id from changed_slots'
        ~ ' where time_slot_id is not null order by 1 limit ' ~ (limit + 1)
    ).rows -%}
    {{- return(none if rows | length > limit else rows | map(attribute=0) | list) -}}
{%- endmacro %}


{#- `values` as a text[] of string literals (quotes doubled: ids come from the API). -#}
{% macro text_array(values) -%}
    array[
    {%- for value in values -%}
        '{{ value | replace("'", "''") }}'{{ ',' if not loop.last }}
    {%- endfor -%}
    ]::text[]
{%- endmacro %}
