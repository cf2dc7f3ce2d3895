-- grain: one row per file content (file_sha256) taken in: status loaded or partial, and
--   held by some inbox path now.
-- materialized: table
-- description: Files whose rows the models use. A file held out because a data test failed
--   with it (ingest.file_holds) is not among them. Each path counts with its current content
--   (the latest recorded at that path): a page rewritten at the same path replaces the
--   earlier content, whose rows leave the models (they stay in raw and in the lake). A
--   duplicate file shares the sha256 of a taken one and is never counted twice (its path
--   keeps the content in use); quarantined and skipped entries have no rows. A content
--   forgotten on record (`bulletins forget`, staging.stg_corrections) is not among them.
with

files as (
    select * from ingest.files
),

forgotten as (
    select file_sha256 from staging.stg_corrections where kind = 'forget'
),

current_contents as (
    select file_sha256
    from files
    qualify row_number() over (partition by path order by ingest_seq desc, batch_id desc) = 1
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
        and file_sha256 in (select current_contents.file_sha256 from current_contents)
        and file_sha256 not in (select file_holds.file_sha256 from ingest.file_holds as file_holds)
        and file_sha256 not in (select forgotten.file_sha256 from forgotten)
),

final as (
    select *
    from taken
    qualify row_number() over (partition by file_sha256 order by ingest_seq, path) = 1
)

select * from final
