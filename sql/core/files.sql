-- grain: one row per inbox path recorded: its current content (the latest recorded there).
-- unique_key: path
-- not_null: path, file_sha256, size_bytes, status, status_by, reasons, ingest_seq
-- materialized: table
-- description: Each inbox entry's state, in one place: what `bulletins status`, a run's
--   summary and notifications, and the run report read (no reader assembles it again). The
--   status is the one recorded at ingest (ingest.files), except that a loaded file whose
--   bulletin breaks a warehouse rule (core.bulletin_checks) is partial, with the rule in
--   its reasons, and a file held out because a data test failed with it (ingest.file_holds)
--   is quarantined, the hold's reason first. Corrections on record (`bulletins forget`,
--   `bulletins accept`) apply too: a file whose content was forgotten is forgotten (who,
--   when and why first in its reasons), and a partial file whose every failed check was
--   accepted is loaded (the acceptances in its reasons). Earlier contents of a rewritten
--   path stay in ingest.files only.
-- column: path: path of the entry relative to the inbox (a name that is not UTF-8 has
--   its bytes above 0x7f written \xNN; a member of a zip archive: archive.zip!member)
-- column: file_sha256: sha256 of the file's bytes; for a skipped entry, of the reason it
--   was not read
-- column: size_bytes: size of the file in bytes
-- column: issue_date: date of the newspaper issue
-- column: issue_date_source: where issue_date came from: file_name, page or inferred
-- column: encoding: encoding the file was decoded with
-- column: status: loaded, partial, quarantined, duplicate, skipped or forgotten
-- column: status_by: who set the status: ingest (the parser, as ingest.files recorded
--   it), warehouse_check (a bulletin breaks a rule of core.bulletin_checks), data_test (held
--   out: ingest.file_holds), forget or accept (a correction on record)
-- column: reasons: why the entry is partial, quarantined, duplicate, skipped or forgotten
--   (also notes on a loaded file: bad bytes read as U+FFFD, a name not UTF-8, checks
--   accepted on record)
-- column: ingest_seq: order in which entries were taken in (ingest.files has when and
--   in which lake batch; core.batches counts each batch's entries by status)
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

forgotten as (
    select * from staging.stg_corrections where kind = 'forget'
),

-- files with a bulletin kept out of the marts by a failed check no one accepted
failing as (
    select distinct file_sha256 from core.bulletins where not passes_checks
),

acceptance_reasons as (
    select
        file_sha256,
        list(
            'accepted on record: bulletin (' || coalesce(period_start::varchar, 'period unknown') || '): '
            || check_name || ' by ' || accepted_by || ' at '
            || strftime(timezone('UTC', accepted_at), '%Y-%m-%d %H:%M UTC') || ': ' || note
            order by period_start, bulletin_id, check_name
        ) as reasons,
    from core.bulletin_acceptances
    group by file_sha256
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

-- Who decided each file's state, once: its status and reasons follow from it below.
decided as (
    select
        current_files.path,
        current_files.file_sha256,
        current_files.size_bytes,
        current_files.issue_date,
        current_files.issue_date_source,
        current_files.encoding,
        current_files.status as ingest_status,
        current_files.reasons as ingest_reasons,
        current_files.ingest_seq,
        forgotten.decided_by as forgotten_by,
        forgotten.decided_at as forgotten_at,
        forgotten.note as forgotten_note,
        file_holds.reason as hold_reason,
        warehouse_reasons.reasons as warehouse_reasons,
        acceptance_reasons.reasons as acceptance_reasons,
        case
            when forgotten.file_sha256 is not null then 'forget'
            when file_holds.reason is not null then 'data_test'
            when current_files.status = 'loaded' and failing.file_sha256 is not null then 'warehouse_check'
            when current_files.status = 'partial' and failing.file_sha256 is null
                and acceptance_reasons.file_sha256 is not null then 'accept'
            else 'ingest'
        end as status_by
    from current_files
    left join warehouse_reasons
        on warehouse_reasons.file_sha256 = current_files.file_sha256
        and current_files.status in ('loaded', 'partial')
    left join file_holds
        on file_holds.file_sha256 = current_files.file_sha256
        and current_files.status in ('loaded', 'partial')
    left join forgotten on forgotten.file_sha256 = current_files.file_sha256
    left join failing
        on failing.file_sha256 = current_files.file_sha256
        and current_files.status in ('loaded', 'partial')
    left join acceptance_reasons
        on acceptance_reasons.file_sha256 = current_files.file_sha256
        and current_files.status in ('loaded', 'partial')
),

final as (
    select
        path,
        file_sha256,
        size_bytes,
        issue_date,
        issue_date_source,
        encoding,
        case status_by
            when 'forget' then 'forgotten'
            when 'data_test' then 'quarantined'
            when 'warehouse_check' then 'partial'
            when 'accept' then 'loaded'
            else ingest_status
        end as status,
        status_by,
        case status_by
            when 'forget' then list_concat(
                [
                    'forgotten on record by ' || forgotten_by || ' at '
                    || strftime(timezone('UTC', forgotten_at), '%Y-%m-%d %H:%M UTC') || ': ' || forgotten_note
                ],
                ingest_reasons
            )
            when 'data_test' then list_concat([hold_reason], ingest_reasons)
            else list_concat(
                ingest_reasons,
                coalesce(warehouse_reasons, []),
                coalesce(acceptance_reasons, [])
            )
        end as reasons,
        ingest_seq
    from decided
)

select * from final
