-- grain: one row per bulletin printed in a taken file (a week printed twice has two rows).
-- unique_key: bulletin_id
-- not_null: bulletin_id, city, file_sha256, format, failed_checks, passes_checks,
--   superseded, line_start, line_end, ingest_seq, accepted_checks, check_details
-- materialized: table
-- description: Bulletins of the cities' digital city-management centres (weekly lists,
--   monthly and quarterly scorecards: period_kind), with their checks and whether a later
--   printing of the same period replaces them. The marts use the rows with passes_checks
--   and not superseded (see core.published_weeks; marts.unit_period_scores for months). A figure the
--   city's format does not print is NULL (README: Cities and their bulletin formats).
-- column: bulletin_id: file_sha256[:16] || '-' || seq
-- column: file_sha256: sha256 of the source file (lineage)
-- column: issue_date: issue date of the page it was printed in
-- column: period_start: first day of the week reported
-- column: period_end: last day of the week reported
-- column: received: cases taken in that week (受理; Sanmenxia: 共处理案件, all channels)
-- column: due: cases due to be closed that week, older cases included (应结案)
-- column: closed: cases closed (已结案)
-- column: in_progress: cases in progress (正在办理中)
-- column: overdue: cases past deadline, still open (超时未办结)
-- column: disputed: cases not handled, responsibility disputed (确权争议)
-- column: closure_rate_published: closure rate as printed, 0..1 (90.58% -> 0.9058)
-- column: linked_units: units the centre dispatches to (联动单位)
-- column: overdue_units: units with overdue cases, as printed: the length of the list
-- column: as_of: the 截至 time of the figures (local time)
-- column: failed_checks: names of the checks that failed, the parser's (in their order)
--   then the warehouse's (core.bulletin_checks); empty when clean
-- column: passes_checks: true when every failed check is accepted on record (failed_checks
--   minus accepted_checks is empty); so true when failed_checks is empty
-- column: superseded: true when a bulletin of the same city, period_kind and period_start that passes
--   its checks was printed later: a later issue_date (NULL counts as earliest), on a tie the file
--   ingested later (ingest_seq), on a tie the later bulletin in the file. Failing
--   bulletins can be superseded but never supersede.
-- column: line_start: first line of the bulletin in the decoded file
-- column: line_end: last line of the bulletin in the decoded file
-- column: format: the bulletin format module that read it
-- column: ingest_seq: order in which its file was taken in (ingest.files)
-- column: city: the publishing city (驻马店, 三门峡), from the format that read the bulletin
-- column: period_label: the publisher's own label of the period (2021第7期); NULL when it
--   prints none (Zhumadian)
-- column: accepted_checks: the failed checks a person accepted on record (`bulletins accept`,
--   core.bulletin_acceptances: who, when, why), in failed_checks' order; empty when none
-- column: period_kind: what the period is: week (the weekly lists, core.published_weeks),
--   month or quarter (scorecards and 月报, marts.unit_period_scores)
-- column: check_details: one line per failed check, in failed_checks' order: its name, the
--   numbers it compared and the line they were printed on (units_sum_to_overdue: rows sum to
--   41 (lines 101-114), the bulletin prints 38 (line 95)); the name alone for a bulletin
--   read before details were recorded
with

parsed as (
    select * from staging.stg_bulletins
),

warehouse_checks as (
    select
        bulletin_id,
        list(check_name order by check_name) as check_names,
        list(check_name || ': ' || detail order by check_name) as check_lines,
    from core.bulletin_checks
    group by bulletin_id
),

-- checks accepted on record, per file: they apply to each of its bulletins that failed them
accepted as (
    select
        file_sha256,
        list(check_name) as check_names,
    from staging.stg_corrections
    where kind = 'accept'
    group by file_sha256
),

bulletins as (
    select
        parsed.* replace (
            list_concat(parsed.failed_checks, coalesce(warehouse_checks.check_names, [])) as failed_checks,
            -- a batch from before the details were recorded: the names alone
            list_concat(
                coalesce(parsed.check_details, parsed.failed_checks), coalesce(warehouse_checks.check_lines, [])
            ) as check_details
        ),
        coalesce(accepted.check_names, []) as accepted_names,
    from parsed
    left join warehouse_checks on warehouse_checks.bulletin_id = parsed.bulletin_id
    left join accepted on accepted.file_sha256 = parsed.file_sha256
),

checked as (
    select
        * exclude (accepted_names),
        list_filter(failed_checks, lambda name: list_contains(accepted_names, name)) as accepted_checks,
        coalesce(
            len(list_filter(failed_checks, lambda name: not list_contains(accepted_names, name))) = 0, false
        ) as passes_checks,
        -- printing order within a city's period: later issue, then later file, then later in the file
        row_number() over (
            partition by city, period_kind, period_start
            order by issue_date asc nulls first, ingest_seq asc, seq asc
        ) as printing_no,
    from bulletins
),

latest as (
    select
        *,
        max(printing_no) filter (where passes_checks) over (partition by city, period_kind, period_start)
            as latest_passing_printing_no,
    from checked
),

final as (
    select
        bulletin_id,
        file_sha256,
        issue_date,
        period_start,
        period_end,
        received,
        due,
        closed,
        in_progress,
        overdue,
        disputed,
        closure_rate_published,
        linked_units,
        overdue_units,
        as_of,
        failed_checks,
        passes_checks,
        coalesce(
            period_start is not null and printing_no < latest_passing_printing_no,
            false
        ) as superseded,
        line_start,
        line_end,
        format,
        ingest_seq,
        city,
        period_label,
        accepted_checks,
        period_kind,
        check_details,
    from latest
)

select * from final
