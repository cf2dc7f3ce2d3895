-- grain: one row per bulletin (bulletin_id) read from a taken file.
with

bulletins as (
    select * from raw.bulletins
),

files as (
    select * from staging.stg_files
),

taken as (
    select
        bulletins.bulletin_id,
        bulletins.file_sha256,
        bulletins.seq,
        bulletins.article_seq,
        bulletins.format,
        bulletins.city,
        bulletins.period_label,
        coalesce(bulletins.issue_date, files.issue_date) as issue_date,
        bulletins.period_start,
        bulletins.period_end,
        bulletins.received,
        bulletins.due,
        bulletins.closed,
        bulletins.in_progress,
        bulletins.overdue,
        bulletins.disputed,
        bulletins.closure_rate_published,
        bulletins.linked_units,
        bulletins.overdue_units,
        bulletins.as_of,
        bulletins.failed_checks,
        bulletins.check_details,
        bulletins.line_start,
        bulletins.line_end,
        bulletins.period_kind,
        files.ingest_seq,
        bulletins.batch_id,
    from bulletins
    inner join files on files.file_sha256 = bulletins.file_sha256
),

final as (
    select *
    from taken
    qualify row_number() over (partition by bulletin_id order by batch_id desc) = 1
)

select * from final
