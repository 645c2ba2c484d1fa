-- Batigest's chantier codes (`ChantierDef.Code`), when the loader could read them.
-- SQL Server compares codes case-insensitively and ignores trailing blanks: so does the
-- `unknown_chantier` check, through `chantier_key`.

with

source as (

    {{ select_source_columns('batigest', 'chantiers') }}

),

renamed as (

    select distinct
        code::text as chantier_code,
        upper(rtrim(code::text)) as chantier_key

    from source
    where nullif(trim(code::text), '') is not null

)

select * from renamed
