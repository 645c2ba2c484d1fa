{#- The `timezone` var as a SQL string literal (quotes doubled, so no value can break out). -#}
{% macro local_timezone() -%}
    '{{ var("timezone") | string | replace("'", "''") }}'
{%- endmacro %}


{#-
    A UTC instant (timestamptz) as the local wall-clock time of SuiviMO, seconds and
    fractions dropped exactly as the seed does (`.replace(second=0, microsecond=0)`):
    08:59:59 stays 08:59, it is never rounded up to 09:00.
-#}
{% macro utc_to_local_minute(column) -%}
    date_trunc('minute', ({{ column }}) at time zone {{ local_timezone() }})
{%- endmacro %}


{#- The first local day inside the import window (HEURES_WINDOW_DAYS back from today). -#}
{% macro window_start_date() -%}
    ((now() at time zone {{ local_timezone() }})::date - {{ var("window_days") | int }})
{%- endmacro %}


{#-
    Text → timestamptz, or null when the text is not an ISO-8601 timestamp with an explicit
    offset (`2026-03-29T01:30:42Z`, `…+02:00`): a value without an offset would silently be
    read in the session's time zone, and a malformed one would fail the whole build.
-#}
{% macro safe_iso_timestamptz(column) -%}
    case
        when ({{ column }}) ~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$'
            then ({{ column }})::timestamptz
    end
{%- endmacro %}
