with

source as (

    {{ select_source_columns('batisimply', 'quarantine') }}

),

renamed as (

    select
        quarantine_key::text as quarantine_key,
        resource::text as resource,
        nullif(record_id::text, '') as record_id,
        reason::text as reason,
        payload::text as payload,
        management_status::text as management_status,
        first_seen_at,
        last_seen_at

    from source

)

select * from renamed
