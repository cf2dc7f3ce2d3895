-- grain: one row per unit row (bulletin_id, row_no) of a bulletin read from a taken file.
with

units as (
    select * from raw.bulletin_units
),

bulletins as (
    select * from staging.stg_bulletins
),

taken as (
    select
        units.bulletin_id,
        units.file_sha256,
        units.unit_group,
        units.unit_name_raw,
        units.unit_name_key,
        units.dispatched,
        units.unresolved,
        units.closed,
        units.closure_rate_published,
        units.row_no,
        units.line_no,
        units.batch_id,
    from units
    where exists (select 1 from bulletins where bulletins.bulletin_id = units.bulletin_id)
),

final as (
    select *
    from taken
    qualify row_number() over (partition by bulletin_id, row_no order by batch_id desc) = 1
)

select * from final
