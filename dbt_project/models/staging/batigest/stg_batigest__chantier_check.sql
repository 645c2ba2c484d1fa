-- Whether the `unknown_chantier` check is on: one row when the loader has run against
-- Batigest (`is_on` false, with why, when ChantierDef is absent, unreadable or empty);
-- no row before that, which means off too.

with

source as (

    {{ select_source_columns('batigest', 'chantier_check') }}

),

renamed as (

    select
        coalesce(is_on::boolean, false) as is_on,
        detail::text as detail

    from source

)

select * from renamed
