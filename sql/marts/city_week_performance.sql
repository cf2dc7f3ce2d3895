-- grain: one row per city per published week.
-- unique_key: city, week_start
-- not_null: city, week_start, week_end, bulletin_id, prev_week_published, units_on_list,
--   prev_week_status
-- description: Each city's week-over-week figures from its weekly bulletin. Only bulletins
--   that pass their checks and are not superseded count; weeks are compared within a city.
--   A figure the city's format does not print is NULL, and so is what is computed from it
--   (Sanmenxia: received only; README: Cities and their bulletin formats).
-- column: city: the publishing city (驻马店, 三门峡)
-- column: week_start: first day of the published week
-- column: week_end: last day of the published week
-- column: period_label: the publisher's own label of the period (2021第7期); NULL when it
--   prints none (Zhumadian)
-- column: received: cases taken in that week (受理; Sanmenxia: 共处理案件, all channels)
-- column: due: cases due to be closed that week, older cases included (应结案)
-- column: closed: cases closed (已结案)
-- column: in_progress: cases in progress (正在办理中)
-- column: overdue: cases past deadline, still open (超时未办结)
-- column: disputed: cases not handled, responsibility disputed (确权争议)
-- column: closure_rate: closed / due, 0..1, computed; NULL when due is NULL or 0
-- column: closure_rate_published: closure rate as printed, 0..1 (90.58% -> 0.9058)
-- column: prev_week_published: whether the city's previous week (week_start - 7 days) was
--   published
-- column: prev_closure_rate: closure_rate of the previous week; NULL when not published
-- column: closure_rate_change_pp: (closure_rate - prev_closure_rate) * 100, in percentage points
-- column: overdue_change: overdue - the previous week's overdue; NULL when not published
-- column: disputed_change: disputed - the previous week's disputed; NULL when not published
-- column: units_on_list: canonical units on this week's list (a unit on two lists, like a
--   Sanmenxia department in two channels, counts on each)
-- column: units_entered: units on this week's list that were off the previous week's;
--   NULL when the previous week was not published (a Zhumadian unit printed in the other
--   group than last week did not enter: its groups are one list)
-- column: units_left: units on the previous week's list that are off this week's; NULL
--   when the previous week was not published
-- column: top3_overdue_share: the 3 largest units' unresolved summed, / overdue, 0..1;
--   NULL when overdue is NULL or 0
-- column: linked_units: units the centre dispatches to (联动单位)
-- column: overdue_units: units with overdue cases, as printed: the length of the list
-- column: bulletin_id: the bulletin the week's figures come from (core.bulletins)
-- column: issue_date: issue date of the page that bulletin was printed in
-- column: prev_week_status: what the previous week (week_start - 7 days) is: published;
--   failed_checks (printed, but its bulletin failed a check: core.failed_weeks, a gap with
--   that reason); or not_published (no bulletin of it at all)
-- column: prev_week_failed_checks: the checks the previous week's bulletin failed, comma
--   separated (units_sum_to_overdue, closure_rate_matches), when prev_week_status is
--   failed_checks; NULL otherwise
with

weeks as (
    select * from core.published_weeks
),

failed_weeks as (
    select * from core.failed_weeks
),

unit_weeks as (
    select * from marts.unit_week_performance
),

list_counts as (
    select
        city,
        week_start,
        count(*) filter (where on_list) as units_on_list,
        count(*) filter (where list_change = 'entered') as units_entered,
        count(*) filter (where list_change = 'left') as units_left,
    from unit_weeks
    group by city, week_start
),

largest_three as (
    select
        city,
        week_start,
        unresolved,
    from unit_weeks
    where on_list
    qualify row_number() over (
        partition by city, week_start
        order by unresolved desc nulls last, unit_name asc, unit_list asc
    ) <= 3
),

top3 as (
    select
        city,
        week_start,
        sum(unresolved) as top3_unresolved,
    from largest_three
    group by city, week_start
),

figures as (
    select
        *,
        case when due > 0 then closed / due end as closure_rate,
    from weeks
),

final as (
    select
        figures.city,
        figures.week_start,
        figures.week_end,
        figures.period_label,
        figures.received,
        figures.due,
        figures.closed,
        figures.in_progress,
        figures.overdue,
        figures.disputed,
        figures.closure_rate,
        figures.closure_rate_published::double as closure_rate_published,
        prev.week_start is not null as prev_week_published,
        prev.closure_rate as prev_closure_rate,
        (figures.closure_rate - prev.closure_rate) * 100 as closure_rate_change_pp,
        figures.overdue - prev.overdue as overdue_change,
        figures.disputed - prev.disputed as disputed_change,
        coalesce(list_counts.units_on_list, 0) as units_on_list,
        case when prev.week_start is not null then coalesce(list_counts.units_entered, 0) end as units_entered,
        case when prev.week_start is not null then coalesce(list_counts.units_left, 0) end as units_left,
        case when figures.overdue > 0 then coalesce(top3.top3_unresolved, 0) / figures.overdue end
            as top3_overdue_share,
        figures.linked_units,
        figures.overdue_units,
        figures.bulletin_id,
        figures.issue_date,
        case
            when prev.week_start is not null then 'published'
            when prev_failed.week_start is not null then 'failed_checks'
            else 'not_published'
        end as prev_week_status,
        case when prev.week_start is null then array_to_string(prev_failed.failed_checks, ', ') end
            as prev_week_failed_checks,
    from figures
    left join figures as prev
        on prev.city = figures.city
        and prev.week_start = figures.week_start - 7
    left join failed_weeks as prev_failed
        on prev_failed.city = figures.city
        and prev_failed.week_start = figures.week_start - 7
    left join list_counts
        on list_counts.city = figures.city
        and list_counts.week_start = figures.week_start
    left join top3
        on top3.city = figures.city
        and top3.week_start = figures.week_start
    order by figures.city, figures.week_start
)

select * from final
