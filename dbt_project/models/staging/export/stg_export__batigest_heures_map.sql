with

source as (

    select * from {{ source('export', 'batigest_heures_map') }}

),

renamed as (

    select
        id_heure::text as id_heure,
        code_chantier::text as code_chantier,
        code_salarie::text as code_salarie,
        date_sqlserver::timestamp as date_sqlserver,
        nb_h0,
        nb_h3,
        nb_h4,
        values_hash::text as values_hash,
        -- rows written before values_hash existed: hash what the map holds instead (with
        -- the seed's key-only rows this never matches, so those slots are pushed again)
        coalesce(
            values_hash::text,
            {{ suivimo_values_hash('code_chantier', 'code_salarie', 'date_sqlserver', 'nb_h0', 'nb_h3', 'nb_h4') }}
        ) as pushed_values_hash,
        pushed_at,
        run_id::text as run_id

    from source

)

select * from renamed
