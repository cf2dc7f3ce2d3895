-- grain: one row per published week: a week_start with a bulletin that passes its checks
--   and is not superseded.
-- unique_key: week_start
-- not_null: week_start, week_end, bulletin_id, file_sha256, printings_count
-- description: The bulletin each published week's figures come from: what the marts use.
--   A week without such a bulletin is unknown, not zero.
-- column: week_start: first day of the week reported (period_start)
-- column: week_end: last day of the week reported (period_end)
-- column: bulletin_id: the bulletin the week's figures come from (core.bulletins)
-- column: file_sha256: sha256 of the source file (lineage)
-- column: issue_date: issue date of the page it was printed in
-- column: received: cases taken in that week (受理)
-- column: due: cases due to be closed that week (应结案)
-- column: closed: cases closed (已结案)
-- column: in_progress: cases in progress (正在办理中)
-- column: overdue: cases past deadline, still open (超时未办结)
-- column: disputed: cases not handled, responsibility disputed (确权争议)
-- column: closure_rate_published: closure rate as printed, 0..1
-- column: linked_units: units the centre dispatches to (联动单位)
-- column: overdue_units: units with overdue cases, as printed: the length of the list
-- column: printings_count: how many bulletins of this week core.bulletins holds
--   (more than 1: reprinted, e.g. with corrections)
with

bulletins as (
    select * from core.bulletins
),

printings as (
    select
        period_start,
        count(*) as printings_count,
    from bulletins
    where period_start is not null
    group by period_start
),

published as (
    select *
    from bulletins
    where passes_checks
        and not superseded
        and period_start is not null
        -- until the marts carry the city (issue 11), only Zhumadian's weeks feed them
        and format = 'zhumadian_weekly'
),

final as (
    select
        published.period_start as week_start,
        published.period_end as week_end,
        published.bulletin_id,
        published.file_sha256,
        published.issue_date,
        published.received,
        published.due,
        published.closed,
        published.in_progress,
        published.overdue,
        published.disputed,
        published.closure_rate_published,
        published.linked_units,
        published.overdue_units,
        printings.printings_count,
    from published
    inner join printings on printings.period_start = published.period_start
)

select * from final
