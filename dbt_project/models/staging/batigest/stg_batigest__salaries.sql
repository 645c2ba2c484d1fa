with

source as (

    {{ select_source_columns('batigest', 'salarie') }}

),

renamed as (

    select
        code::text as salarie_code,
        nom::text as salarie_nom,
        codebs::text as codebs,
        -- SQL Server compares case-insensitively, and so did the seed's lookup: match
        -- BatiSimply UUIDs in lower case, blanks being no codebs at all
        lower(nullif(trim(codebs::text), '')) as batisimply_user_id

    from source

)

select * from renamed
