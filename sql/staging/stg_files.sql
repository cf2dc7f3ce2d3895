-- grain: one row per file content (file_sha256) taken in: status loaded or partial.
-- description: Files whose rows the models use. A duplicate file shares the sha256 of a
--   taken one and is never counted twice; quarantined files have no rows.
with

files as (
    select * from ingest.files
),

taken as (
    select
        file_sha256,
        path,
        size_bytes,
        issue_date,
        issue_date_source,
        encoding,
        status,
        reasons,
        first_seen_at,
        ingest_seq,
        batch_id,
    from files
    where status in ('loaded', 'partial')
),

final as (
    select *
    from taken
    qualify row_number() over (partition by file_sha256 order by ingest_seq, path) = 1
)

select * from final
