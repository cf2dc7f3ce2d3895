-- grain: one row per city and published week: a (city, week_start) with a bulletin that
--   passes its checks and is not superseded.
-- unique_key: city, week_start
-- not_null: city, week_start, week_end, bulletin_id, file_sha256, printings_count
-- materialized: table
-- description: The bulletin each city's published week's figures come from: what the weekly
--   marts use (weeks only: a month's or quarter's bulletin is in marts.unit_period_scores).
--   A week without such a bulletin is unknown, not zero. A figure the city's format
--   does not print is NULL.
-- column: city: the publishing city (驻马店, 三门峡)
-- column: week_start: first day of the week reported (period_start)
-- column: week_end: last day of the week reported (period_end)
-- column: period_label: the publisher's own label of the period (2021第7期); NULL when it
--   prints none (Zhumadian)
-- column: bulletin_id: the bulletin the week's figures come from (core.bulletins)
-- column: file_sha256: sha256 of the source file (lineage)
-- column: issue_date: issue date of the page it was printed in
-- column: received: cases taken in that week (受理; Sanmenxia: 共处理案件, all channels)
-- column: due: cases due to be closed that week (应结案)
-- column: closed: cases closed (已结案)
-- column: in_progress: cases in progress (正在办理中)
-- column: overdue: cases past deadline, still open (超时未办结)
-- column: disputed: cases not handled, responsibility disputed (确权争议)
-- column: closure_rate_published: closure rate as printed, 0..1
-- column: linked_units: units the centre dispatches to (联动单位)
-- column: overdue_units: units with overdue cases, as printed: the length of the list
-- column: printings_count: how many bulletins of this city's week core.bulletins holds
--   (more than 1: reprinted, e.g. with corrections)
with

bulletins as (
    select * from core.bulletins
),

printings as (
    select
        city,
        period_start,
        count(*) as printings_count,
    from bulletins
    where period_start is not null
        and period_kind = 'week'
    group by city, period_start
),

published as (
    select *
    from bulletins
    where passes_checks
        and not superseded
        and period_start is not null
        and period_kind = 'week'
),

final as (
    select
        published.city,
        published.period_start as week_start,
        published.period_end as week_end,
        published.period_label,
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
    inner join printings
        on printings.city = published.city
        and printings.period_start = published.period_start
)

select * from final
