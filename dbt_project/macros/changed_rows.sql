{#-
    Data tests limited to the rows a run wrote (docs/INCREMENTAL.md, "Data tests").
    A test whose `where` is exactly `__written_since_last_complete_sync__` reads only the
    rows of int_time_slots_resolved whose `written_since` is null (written outside a
    sync) or at least the since generation of this run: the rows written by this run and
    by any run after the last complete sync (a run that failed, on a test or otherwise,
    records no complete run, so its rows are tested again by the next). Every other row
    was written by a run that completed, so it passed every test of the row's own
    columns then, and a new dbt project (a new test) rewrites every row. Without a
    since (no complete sync yet, a run by hand) or under `--full-refresh`: every row.
    Only for tests whose truth is the row's own columns (not_null, accepted_values):
    unique and relationships depend on other rows and stay whole.

    `__raw_written_since_last_complete_sync__` does the same for a staging view of the
    raw time slots, on the raw row's `_generation` (the view's `raw_generation`): the rows
    written by a load after the last complete sync's generation, and those with none. A
    raw row is not rewritten when the dbt project changes, so this one also reads every
    row unless the sync says that its inputs (nochange.run_inputs: the project's version,
    the settings, the window's first day, Batigest's lengths) are those of the last
    complete sync (`since_inputs_unchanged`), and under BATISYNC_SINCE_GENERATION.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where == '__written_since_last_complete_sync__' -%}
        {%- set since = since_generation() if execute else none -%}
        {%- if since is none or flags.FULL_REFRESH -%}
            {%- do return(relation) -%}
        {%- endif -%}
        {%- set where = 'written_since is null or written_since >= ' ~ (since | int) -%}
    {%- elif where == '__raw_written_since_last_complete_sync__' -%}
        {%- set since = since_generation() if execute else none -%}
        {%- if since is none or flags.FULL_REFRESH or not since_inputs_unchanged() -%}
            {%- do return(relation) -%}
        {%- endif -%}
        {#- the view's plain copy of the raw column: PostgreSQL filters the raw rows with
            it, before the view's casts and conversions -#}
        {%- set where = 'raw_generation is null or raw_generation > ' ~ (since | int) -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}


{#- The value int_time_slots_resolved stamps in `written_since`: the since generation of
    the sync that writes the row (-1 for a sync before any complete one: if it fails,
    the next has no since either and tests every row), null outside a sync (a run by
    hand, with or without BATISYNC_SINCE_GENERATION: the row is tested by every run
    until a sync rewrites it). -#}
{% macro written_since_value() -%}
    {%- if env_var('BATISYNC_SINCE_GENERATION', '') | trim
        or not env_var('BATISYNC_SINCE_FROM_TABLE', '') | trim -%}
        null
    {%- else -%}
        {%- set since = since_generation() -%}
        {{ -1 if since is none else since | int }}
    {%- endif -%}
{%- endmacro %}


{#- int_time_slots_resolved's post-hook: the limited tests read the few rows of this run
    through this index, not the whole table. Nothing for the view materialization. -#}
{% macro index_written_since() -%}
    {%- if config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    create index if not exists int_time_slots_resolved_written_since
        on {{ this }} (written_since)
{%- endmacro %}
