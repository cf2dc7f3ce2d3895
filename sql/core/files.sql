-- grain: one row per inbox path recorded: its current content (the latest recorded there).
-- unique_key: path
-- not_null: path, file_sha256, size_bytes, status, reasons, ingest_seq
-- materialized: table
-- description: What became of each inbox entry, as `bulletins status` reports it. The
--   status is the one recorded at ingest (ingest.files), except that a loaded file whose
--   bulletin breaks a warehouse rule (core.bulletin_checks) is partial, with the rule in
--   its reasons, and a file held out because a data test failed with it (ingest.file_holds)
--   is quarantined, the hold's reason first. Earlier contents of a rewritten path stay in
--   ingest.files only.
-- column: path: path of the entry relative to the inbox (a name that is not UTF-8 has
--   its bytes above 0x7f written \xNN)
-- column: file_sha256: sha256 of the file's bytes; for a skipped entry, of the reason it
--   was not read
-- column: size_bytes: size of the file in bytes
-- column: issue_date: date of the newspaper issue
-- column: issue_date_source: where issue_date came from: file_name, page or inferred
-- column: encoding: encoding the file was decoded with
-- column: status: loaded, partial, quarantined, duplicate or skipped
-- column: reasons: why the entry is partial, quarantined, duplicate or skipped (also notes
--   on a loaded file: bad bytes read as U+FFFD, a name not UTF-8)
-- column: ingest_seq: order in which entries were taken in (ingest.files has when and
--   in which lake batch)
with

files as (
    select * from ingest.files
),

checks as (
    select * from core.bulletin_checks
),

file_holds as (
    select * from ingest.file_holds
),

current_files as (
    select *
    from files
    qualify row_number() over (partition by path order by ingest_seq desc, batch_id desc) = 1
),

warehouse_reasons as (
    select
        file_sha256,
        list(
            'bulletin ' || seq || ' (' || coalesce(period_start::varchar, 'period unknown') || '): '
            || check_name || ': ' || detail
            order by seq, check_name
        ) as reasons,
    from checks
    group by file_sha256
),

final as (
    select
        current_files.path,
        current_files.file_sha256,
        current_files.size_bytes,
        current_files.issue_date,
        current_files.issue_date_source,
        current_files.encoding,
        case
            when file_holds.reason is not null then 'quarantined'
            when current_files.status = 'loaded' and warehouse_reasons.reasons is not null then 'partial'
            else current_files.status
        end as status,
        case
            when file_holds.reason is not null then list_concat([file_holds.reason], current_files.reasons)
            else list_concat(current_files.reasons, coalesce(warehouse_reasons.reasons, []))
        end as reasons,
        current_files.ingest_seq,
    from current_files
    left join warehouse_reasons
        on warehouse_reasons.file_sha256 = current_files.file_sha256
        and current_files.status in ('loaded', 'partial')
    left join file_holds
        on file_holds.file_sha256 = current_files.file_sha256
        and current_files.status in ('loaded', 'partial')
)

select * from final
