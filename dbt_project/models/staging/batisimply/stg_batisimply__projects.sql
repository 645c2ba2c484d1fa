with

source as (

    {{ select_source_columns('batisimply', 'projects') }}

),

renamed as (

    select
        id::bigint as project_id,
        -- an empty or blank projectCode is no code at all
        nullif(trim(project_code::text), '') as project_code,
        project_name::text as project_name

    from source

)

select * from renamed
