with

source as (

    select * from {{ source('export', 'heures_rejected_seen') }}

),

renamed as (

    select
        id_heure::text as id_heure,
        reason::text as reason,
        first_rejected_at,
        last_rejected_at

    from source

)

select * from renamed
