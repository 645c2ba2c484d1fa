{#-
    What the incremental models read from the sync (docs/INCREMENTAL.md). Environment
    variables, not vars: a var that changes on every run would make dbt parse the whole
    project again each time, an env_var only the files that read it.
-#}

{#- The staging generation the last complete sync's transform read (the sync sets
    BATISYNC_SINCE_GENERATION), or none: then every slot is taken as changed. -#}
{% macro since_generation() -%}
    {%- set value = env_var('BATISYNC_SINCE_GENERATION', '') | trim -%}
    {{- return(value | int if value else none) -}}
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
