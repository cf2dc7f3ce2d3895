-- grain: one row per bulletin and failed check accepted on record (bulletin_id, check_name).
-- unique_key: bulletin_id, check_name
-- not_null: bulletin_id, file_sha256, city, check_name, note, accepted_by, accepted_at, decision_id
-- materialized: table
-- description: Failed checks a person accepted on record (`bulletins accept FILE --check NAME
--   --note ...`, kept in lake/_corrections): a bulletin whose every failed check is accepted
--   passes (core.bulletins.passes_checks) and is published; the weekly report shows the
--   note ("经人工确认：...") where its week is shown. `bulletins accept --undo` ends it.
-- column: bulletin_id: the bulletin (core.bulletins)
-- column: file_sha256: sha256 of the source file (lineage; the decision is on the file)
-- column: city: the publishing city (驻马店, 三门峡)
-- column: period_start: first day of the week reported
-- column: check_name: the failed check accepted (core.bulletins.failed_checks)
-- column: note: why, as the person wrote it
-- column: accepted_by: who accepted it: the OS user, or --by
-- column: accepted_at: when the decision was recorded
-- column: decision_id: the decision (ingest.corrections, lake/_corrections/<decision_id>.json)
with

bulletins as (
    select * from core.bulletins
),

corrections as (
    select * from staging.stg_corrections
),

accepted as (
    select
        bulletin_id,
        file_sha256,
        city,
        period_start,
        unnest(accepted_checks) as check_name,
    from bulletins
),

final as (
    select
        accepted.bulletin_id,
        accepted.file_sha256,
        accepted.city,
        accepted.period_start,
        accepted.check_name,
        corrections.note,
        corrections.decided_by as accepted_by,
        corrections.decided_at as accepted_at,
        corrections.decision_id,
    from accepted
    inner join corrections
        on corrections.kind = 'accept'
        and corrections.file_sha256 = accepted.file_sha256
        and corrections.check_name = accepted.check_name
)

select * from final
