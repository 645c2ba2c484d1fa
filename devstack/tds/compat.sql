-- SQL Server's catalog as temporary views and functions over pg_catalog, created per
-- TDS session in pg_temp (nothing persists in the database). The translator maps
-- sys.X to pg_temp.sys_X, INFORMATION_SCHEMA.X to pg_temp.is_X, and T-SQL functions
-- to pg_temp.tds_*. Column names are SQL Server's; object ids are pg oids; bit columns
-- are int 0/1 (PostgreSQL has no boolean = integer, and T-SQL compares bits to 0/1).

create function pg_temp.tds_mssql_type(t oid, typmod int) returns text language sql immutable as $$
  select case format_type(t, null)
    when 'character varying' then 'varchar' when 'character' then 'char'
    when 'text' then 'varchar' when 'integer' then 'int' when 'smallint' then 'smallint'
    when 'bigint' then 'bigint' when 'numeric' then 'numeric' when 'boolean' then 'bit'
    when 'double precision' then 'float' when 'real' then 'real'
    when 'timestamp without time zone' then 'datetime'
    when 'timestamp with time zone' then 'datetimeoffset' when 'date' then 'date'
    when 'time without time zone' then 'time' when 'bytea' then 'varbinary'
    when 'uuid' then 'uniqueidentifier' else 'nvarchar' end $$;

create function pg_temp.tds_type_id(t oid) returns int language sql immutable as $$
  select case format_type(t, null)
    when 'character varying' then 167 when 'character' then 175 when 'text' then 167
    when 'integer' then 56 when 'smallint' then 52 when 'bigint' then 127
    when 'numeric' then 108 when 'boolean' then 104 when 'double precision' then 62
    when 'real' then 59 when 'timestamp without time zone' then 61
    when 'timestamp with time zone' then 43 when 'date' then 40
    when 'time without time zone' then 41 when 'bytea' then 165 when 'uuid' then 36
    else 231 end $$;

create view pg_temp.is_columns as
select current_database()::text as "TABLE_CATALOG", c.table_schema::text as "TABLE_SCHEMA",
  c.table_name::text as "TABLE_NAME", c.column_name::text as "COLUMN_NAME",
  c.ordinal_position::int as "ORDINAL_POSITION",
  case when c.column_default is null then null else '(' || c.column_default || ')' end
    as "COLUMN_DEFAULT",
  c.is_nullable::text as "IS_NULLABLE",
  pg_temp.tds_mssql_type(a.atttypid, a.atttypmod) as "DATA_TYPE",
  case when c.data_type = 'text' or c.data_type = 'bytea' then -1
       else c.character_maximum_length::int end as "CHARACTER_MAXIMUM_LENGTH",
  case when c.data_type = 'text' or c.data_type = 'bytea' then -1
       else c.character_maximum_length::int end as "CHARACTER_OCTET_LENGTH",
  case c.data_type when 'integer' then 10 when 'smallint' then 5 when 'bigint' then 19
       when 'numeric' then c.numeric_precision::int when 'double precision' then 53
       when 'real' then 24 end::smallint as "NUMERIC_PRECISION",
  case when c.data_type in ('integer','smallint','bigint','numeric') then 10
       when c.data_type in ('double precision','real') then 2 end::smallint
    as "NUMERIC_PRECISION_RADIX",
  case when c.data_type in ('integer','smallint','bigint') then 0
       when c.data_type = 'numeric' then c.numeric_scale::int end as "NUMERIC_SCALE",
  case when c.data_type like 'timestamp%' then 3 end::smallint as "DATETIME_PRECISION",
  case when c.data_type in ('character varying','character','text')
       then 'iso_1' end::text as "CHARACTER_SET_NAME",
  case when c.data_type in ('character varying','character','text')
       then 'Latin1_General_CI_AS' end::text as "COLLATION_NAME",
  null::text as "DOMAIN_SCHEMA", null::text as "DOMAIN_NAME"
from information_schema.columns c
join pg_attribute a on a.attrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass
  and a.attname = c.column_name
where c.table_schema not in ('pg_catalog', 'information_schema')
  and c.table_schema not like 'pg_temp%' and c.table_schema not like 'pg_toast%';

create view pg_temp.is_tables as
select current_database()::text as "TABLE_CATALOG", table_schema::text as "TABLE_SCHEMA",
  table_name::text as "TABLE_NAME",
  case table_type when 'VIEW' then 'VIEW' else 'BASE TABLE' end::text as "TABLE_TYPE"
from information_schema.tables
where table_schema not in ('pg_catalog', 'information_schema')
  and table_schema not like 'pg_temp%' and table_schema not like 'pg_toast%';

create view pg_temp.is_views as
select "TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", null::text as "VIEW_DEFINITION"
from pg_temp.is_tables where "TABLE_TYPE" = 'VIEW';

create view pg_temp.is_schemata as
select current_database()::text as "CATALOG_NAME", nspname::text as "SCHEMA_NAME",
  'dbo'::text as "SCHEMA_OWNER"
from pg_namespace where nspname not like 'pg_%' and nspname <> 'information_schema';

create view pg_temp.sys_schemas as
select nspname::text as name, oid::int as schema_id, 1 as principal_id
from pg_namespace where nspname not like 'pg_%' and nspname <> 'information_schema';

create view pg_temp.sys_objects as
select c.relname::text as name, c.oid::int as object_id, null::int as principal_id,
  c.relnamespace::int as schema_id, 0 as parent_object_id,
  case c.relkind when 'v' then 'V' else 'U' end::char(2) as type,
  case c.relkind when 'v' then 'VIEW' else 'USER_TABLE' end::text as type_desc,
  now()::timestamp as create_date, now()::timestamp as modify_date,
  0 as is_ms_shipped, 0 as is_published, 0 as is_schema_published
from pg_class c join pg_temp.sys_schemas s on s.schema_id = c.relnamespace::int
where c.relkind in ('r', 'v', 'p', 'm')
union all
select t.tgname::text, t.oid::int, null, c.relnamespace::int, t.tgrelid::int, 'TR'::char(2),
  'SQL_TRIGGER', now()::timestamp, now()::timestamp, 0, 0, 0
from pg_trigger t join pg_class c on c.oid = t.tgrelid
join pg_temp.sys_schemas s on s.schema_id = c.relnamespace::int
where not t.tgisinternal;

create view pg_temp.sys_tables as
select name, object_id, principal_id, schema_id, parent_object_id, type, type_desc,
  create_date, modify_date, is_ms_shipped, is_published, is_schema_published,
  0 as lob_data_space_id, 0 as is_replicated, 0 as temporal_type
from pg_temp.sys_objects where type = 'U';

create view pg_temp.sys_views as
select name, object_id, schema_id, type, type_desc, is_ms_shipped
from pg_temp.sys_objects where type = 'V';

create view pg_temp.sys_columns as
select a.attrelid::int as object_id, a.attname::text as name, a.attnum::int as column_id,
  pg_temp.tds_type_id(a.atttypid)::smallint as system_type_id,
  pg_temp.tds_type_id(a.atttypid) as user_type_id,
  (case when a.atttypid in (25, 17) then -1 when a.atttypmod > 4 and a.atttypid in (1043, 1042)
        then a.atttypmod - 4 else greatest(a.attlen, 8) end)::smallint as max_length,
  (case when a.atttypid = 1700 and a.atttypmod > 0 then ((a.atttypmod - 4) >> 16) & 65535
        when a.atttypid = 23 then 10 when a.atttypid = 21 then 5 when a.atttypid = 20 then 19
        when a.atttypid = 701 then 53 else 0 end)::smallint as precision,
  (case when a.atttypid = 1700 and a.atttypmod > 0 then (a.atttypmod - 4) & 65535
        when a.atttypid = 1114 then 3 else 0 end)::smallint as scale,
  (not a.attnotnull)::int as is_nullable,
  (a.attidentity <> '' or coalesce(pg_get_expr(d.adbin, d.adrelid), '') like 'nextval(%')::int
    as is_identity,
  (a.attgenerated <> '')::int as is_computed,
  case when a.atttypid in (25, 1043, 1042) then 'Latin1_General_CI_AS' end::text
    as collation_name,
  coalesce(d.oid::int, 0) as default_object_id, 0 as is_sparse, 0 as is_rowguidcol
from pg_attribute a join pg_class c on c.oid = a.attrelid
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'v', 'p', 'm')
  and c.relnamespace in (select schema_id from pg_temp.sys_schemas);

create view pg_temp.sys_identity_columns as
select *, 1::numeric as seed_value, 1::numeric as increment_value,
  null::numeric as last_value, 0 as is_not_for_replication
from pg_temp.sys_columns where is_identity = 1;

create view pg_temp.sys_computed_columns as
select *, null::text as definition, 0 as is_persisted
from pg_temp.sys_columns where is_computed = 1;

create view pg_temp.sys_default_constraints as
select d.oid::int as object_id, 'DF_' || c.relname || '_' || a.attname as name,
  d.adrelid::int as parent_object_id, d.adnum::int as parent_column_id,
  '(' || pg_get_expr(d.adbin, d.adrelid) || ')' as definition
from pg_attrdef d join pg_class c on c.oid = d.adrelid
join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum;

create view pg_temp.sys_types as
select * from (values
  ('varchar', 167, 167), ('char', 175, 175), ('int', 56, 56), ('smallint', 52, 52),
  ('bigint', 127, 127), ('numeric', 108, 108), ('decimal', 106, 106), ('bit', 104, 104),
  ('float', 62, 62), ('real', 59, 59), ('datetime', 61, 61), ('datetime2', 42, 42),
  ('datetimeoffset', 43, 43), ('date', 40, 40), ('time', 41, 41), ('varbinary', 165, 165),
  ('uniqueidentifier', 36, 36), ('nvarchar', 231, 231), ('nchar', 239, 239),
  ('tinyint', 48, 48), ('text', 35, 35), ('ntext', 99, 99), ('money', 60, 60)
) as t(name, system_type_id, user_type_id)
cross join (select 4 as schema_id, 0 as is_user_defined, 0 as max_length,
  0 as precision, 0 as scale, 1 as is_nullable) as x;

create view pg_temp.sys_triggers as
select t.tgname::text as name, t.oid::int as object_id, 1::smallint as parent_class,
  'OBJECT_OR_COLUMN'::text as parent_class_desc, t.tgrelid::int as parent_id,
  'TR'::char(2) as type, 'SQL_TRIGGER'::text as type_desc,
  now()::timestamp as create_date, now()::timestamp as modify_date,
  0 as is_ms_shipped, (t.tgenabled = 'D')::int as is_disabled, 0 as is_not_for_replication,
  ((t.tgtype & 64) <> 0)::int as is_instead_of_trigger
from pg_trigger t where not t.tgisinternal;

create view pg_temp.sys_trigger_events as
select t.oid::int as object_id, e.type, e.type_desc, 0 as is_first, 0 as is_last
from pg_trigger t cross join lateral (values (1, 'INSERT', 4), (2, 'UPDATE', 16),
  (3, 'DELETE', 8)) as e(type, type_desc, bit)
where not t.tgisinternal and (t.tgtype & e.bit) <> 0;

create view pg_temp.sys_sql_modules as
select t.oid::int as object_id, pg_get_triggerdef(t.oid) || E';\n' || pg_get_functiondef(t.tgfoid)
  as definition, 1 as uses_ansi_nulls, 1 as uses_quoted_identifier
from pg_trigger t where not t.tgisinternal;

create view pg_temp.sys_indexes as
select i.indrelid::int as object_id, c.relname::text as name,
  row_number() over (partition by i.indrelid order by i.indisprimary desc, c.relname)::int
    as index_id,
  (case when i.indisprimary then 1 else 2 end)::smallint as type,
  case when i.indisprimary then 'CLUSTERED' else 'NONCLUSTERED' end::text as type_desc,
  i.indisunique::int as is_unique, i.indisprimary::int as is_primary_key,
  exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.contype = 'u')::int
    as is_unique_constraint,
  0 as is_disabled, 0 as is_hypothetical, (i.indpred is not null)::int as has_filter,
  pg_get_expr(i.indpred, i.indrelid) as filter_definition, 1 as data_space_id,
  0 as ignore_dup_key, 0::smallint as fill_factor
from pg_index i join pg_class c on c.oid = i.indexrelid
join pg_class t on t.oid = i.indrelid
where t.relnamespace in (select schema_id from pg_temp.sys_schemas);

create view pg_temp.sys_index_columns as
select x.object_id, x.index_id, k.n::int as index_column_id, i.indkey[k.n - 1]::int as column_id,
  (case when k.n <= i.indnkeyatts then k.n else 0 end)::smallint as key_ordinal,
  ((i.indoption[k.n - 1] & 1) = 1)::int as is_descending_key,
  (k.n > i.indnkeyatts)::int as is_included_column, 0::smallint as partition_ordinal
from pg_index i
join pg_class c on c.oid = i.indexrelid
join pg_temp.sys_indexes x on x.object_id = i.indrelid::int and x.name = c.relname::text
cross join lateral generate_series(1, i.indnatts) as k(n);

create view pg_temp.sys_extended_properties as
select 1::smallint as class, 0 as major_id, 0 as minor_id, ''::text as name,
  ''::text as value where false;

create view pg_temp.sys_databases as
select datname::text as name, oid::int as database_id, 160 as compatibility_level,
  'Latin1_General_CI_AS'::text as collation_name, 0 as is_read_committed_snapshot_on,
  0 as snapshot_isolation_state, 0::smallint as state, 'ONLINE'::text as state_desc
from pg_database;

create view pg_temp.sys_dm_exec_sessions as
select pg_backend_pid() % 32768 as session_id, 2::smallint as transaction_isolation_level,
  current_user::text as login_name, current_database()::text as database_name;

create function pg_temp.tds_object_id(name text, kind text default null) returns int
language sql stable as $$
  select c.oid::int from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where lower(c.relname) = lower(replace(replace(split_part(name, '.', -1), '[', ''), ']', ''))
    and (position('.' in name) = 0 or lower(n.nspname) = lower(replace(replace(
      split_part(name, '.', -2), '[', ''), ']', '')))
    and n.nspname not in ('pg_catalog', 'information_schema')
  order by n.nspname = 'dbo' desc limit 1 $$;

create function pg_temp.tds_object_name(id int, db int default null) returns text
language sql stable as $$
  select coalesce((select relname::text from pg_class where oid = id::oid),
    (select tgname::text from pg_trigger where oid = id::oid)) $$;

create function pg_temp.tds_schema_id(name text default 'dbo') returns int
language sql stable as $$ select oid::int from pg_namespace where lower(nspname) = lower(name) $$;

create function pg_temp.tds_schema_name(id int default null) returns text
language sql stable as $$
  select case when id is null then 'dbo' else
    (select nspname::text from pg_namespace where oid = id::oid) end $$;

create function pg_temp.tds_columnproperty(id int, col text, prop text) returns int
language sql stable as $$
  select case lower(prop)
    when 'isidentity' then (select is_identity from pg_temp.sys_columns
      where object_id = id and lower(name) = lower(col))
    when 'allowsnull' then (select is_nullable from pg_temp.sys_columns
      where object_id = id and lower(name) = lower(col))
    when 'iscomputed' then (select is_computed from pg_temp.sys_columns
      where object_id = id and lower(name) = lower(col))
    end $$;

create function pg_temp.tds_has_perms_by_name(name text, cls text, perm text) returns int
language sql stable as $$
  select case when upper(cls) = 'OBJECT' then
    case when pg_temp.tds_object_id(name) is null then null
      else has_table_privilege(pg_temp.tds_object_id(name)::oid,
        case upper(perm) when 'SELECT' then 'SELECT' when 'INSERT' then 'INSERT'
          when 'UPDATE' then 'UPDATE' when 'DELETE' then 'DELETE'
          when 'ALTER' then 'TRIGGER' else 'SELECT' end)::int end
    else 1 end $$;

create function pg_temp.tds_serverproperty(name text) returns text language sql stable as $$
  select case lower(name)
    when 'productversion' then '16.0.4096.0' when 'productlevel' then 'RTM'
    when 'edition' then 'Developer Edition (64-bit)' when 'engineedition' then '3'
    when 'servername' then 'tds-endpoint' when 'machinename' then 'tds-endpoint'
    when 'collation' then 'Latin1_General_CI_AS' when 'productmajorversion' then '16'
    end $$;

create view pg_temp.sys_system_views as
select name from (values ('dm_exec_sessions'), ('objects'), ('tables'), ('columns'),
  ('indexes'), ('triggers')) as v(name);

-- sp_datatype_info (ODBC SQLGetTypeInfo): pyodbc reads the timestamp's column size to
-- decide how many fractional digits a datetime parameter keeps.
create view pg_temp.sys_tds_datatype_info as
select * from (values
  (1, 'datetime2', 93, 27, '''', '''', null, 1, 0, 3, null, 0, null, 'datetime2', 0, 7, 9, 3, null, null, 0),
  (2, 'datetime', 93, 23, '''', '''', null, 1, 0, 3, null, 0, null, 'datetime', 3, 3, 9, 3, null, null, 0),
  (3, 'varchar', 12, 8000, '''', '''', 'max length', 1, 0, 3, null, 0, null, 'varchar', null, null, 12, null, null, null, 2),
  (4, 'nvarchar', -9, 4000, 'N''', '''', 'max length', 1, 0, 3, null, 0, null, 'nvarchar', null, null, -9, null, null, null, 0),
  (5, 'varbinary', -3, 8000, '0x', null, 'max length', 1, 0, 2, null, 0, null, 'varbinary', null, null, -3, null, null, null, 4),
  (6, 'decimal', 3, 38, null, null, 'precision,scale', 1, 0, 2, 0, 0, 0, 'decimal', 0, 38, 3, null, 10, null, 24),
  (7, 'int', 4, 10, null, null, null, 1, 0, 2, 0, 0, 0, 'int', 0, 0, 4, null, 10, null, 7),
  (8, 'bigint', -5, 19, null, null, null, 1, 0, 2, 0, 0, 0, 'bigint', 0, 0, -5, null, 10, null, 0),
  (9, 'float', 6, 53, null, null, null, 1, 0, 2, 0, 0, 0, 'float', null, null, 6, null, 2, null, 8),
  (10, 'bit', -7, 1, null, null, null, 1, 0, 2, null, 0, null, 'bit', 0, 0, -7, null, null, null, 16),
  (11, 'date', 91, 10, '''', '''', null, 1, 0, 3, null, 0, null, 'date', null, 0, 9, 1, null, null, 0)
) as t(ord, "TYPE_NAME", "DATA_TYPE", "PRECISION", "LITERAL_PREFIX", "LITERAL_SUFFIX",
  "CREATE_PARAMS", "NULLABLE", "CASE_SENSITIVE", "SEARCHABLE", "UNSIGNED_ATTRIBUTE", "MONEY",
  "AUTO_INCREMENT", "LOCAL_TYPE_NAME", "MINIMUM_SCALE", "MAXIMUM_SCALE", "SQL_DATA_TYPE",
  "SQL_DATETIME_SUB", "NUM_PREC_RADIX", "INTERVAL_PRECISION", "USERTYPE");

-- HASHBYTES('MD5', x) and CAST(varbinary(4) AS int) (big-endian, signed): the drift
-- stage's per-employee digest of SuiviMO (batisync/export/drift_digest.py)
create function pg_temp.tds_hashbytes_md5(t text) returns bytea language sql immutable as $$
  select decode(md5(t), 'hex') $$;
create function pg_temp.tds_varbinary_int(b bytea) returns int language sql immutable as $$
  select ('x' || lpad(encode(b, 'hex'), 8, '0'))::bit(32)::int $$;
