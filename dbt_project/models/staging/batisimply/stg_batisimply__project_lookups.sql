-- Projects the loader asked one by one (`GET /project/{id}`) because the project list
-- gave no code for them: the answer's code, or that the API answered 404.

with

source as (

    {{ select_source_columns('batisimply', 'project_lookups') }}

),

renamed as (

    select
        id::bigint as project_id,
        nullif(trim(project_code::text), '') as project_code,
        project_name::text as project_name,
        lookup_status::text as lookup_status

    from source

)

select * from renamed
