-- grain: one row per city, list and canonical unit per published week of the city in which
--   the unit is on the list, or was on it in the previous week (week_start - 7 days) and
--   that week was published too (a unit that left the list).
-- unique_key: city, week_start, unit_list, unit_name
-- not_null: city, week_start, unit_list, unit_name, unit_group, week_end, on_list,
--   prev_week_published, unresolved, weeks_on_list_streak, weeks_on_list_total
-- description: Each unit's week-over-week performance on its city's weekly list (Zhumadian:
--   the units with overdue cases; Sanmenxia: each channel's departments cases were
--   dispatched to). Only bulletins that pass their checks and are not superseded count;
--   weeks are compared within a city, a unit within its list (unit_list): Zhumadian's two
--   groups are one list, so a unit printed in the other group the next week stayed on it;
--   Sanmenxia's channels are lists of their own, so a department listed by two channels
--   has a row for each.
-- column: city: the publishing city (驻马店, 三门峡)
-- column: week_start: first day of the published week
-- column: week_end: last day of the published week
-- column: period_label: the publisher's own label of the period (2021第7期); NULL when it
--   prints none (Zhumadian)
-- column: unit_name: canonical unit name (sql/seeds/unit_aliases.csv, per city)
-- column: unit_group: table group the unit is printed in this week (Sanmenxia: the
--   channel); for a unit that left the list, its group in the previous week
-- column: unit_list: the list the unit is followed on (core.bulletin_units.unit_list): the
--   channel for Sanmenxia, whose channels are lists of their own; the city (驻马店) for
--   Zhumadian, whose groups are parts of one list
-- column: on_list: true when the unit is on this week's list
-- column: dispatched: cases dispatched to the unit (交办件; Sanmenxia: 派遣数); NULL off the
--   list (not printed)
-- column: unresolved: cases overdue at the unit (未办结件; Sanmenxia: 未完成数); 0 off the list
-- column: unresolved_rate: unresolved / dispatched, 0..1; NULL when dispatched is NULL or 0
-- column: prev_week_published: whether the city's previous week (week_start - 7 days) was
--   published
-- column: prev_on_list: whether the unit was on the previous week's list; NULL when that
--   week was not published
-- column: prev_dispatched: dispatched in the previous week; NULL when the unit was off that
--   list or the week was not published
-- column: prev_unresolved: unresolved in the previous week; 0 when the unit was off that
--   list, NULL when the week was not published
-- column: unresolved_change: unresolved - prev_unresolved
-- column: unresolved_rate_change_pp: (unresolved_rate - prev_unresolved_rate) * 100, in
--   percentage points; NULL unless both rates exist
-- column: weeks_on_list_streak: consecutive published weeks on the list ending this week,
--   with no unpublished week between (whichever group printed the unit); 0 off the list
-- column: list_change: entered, stayed or left against the previous week's list (a
--   Zhumadian unit printed in the other group stayed); NULL when the previous week was
--   not published (so also in the first published week)
-- column: rank_in_group: rank by unresolved (most first) among the units on the list in
--   the same group this week; ties share a rank (rank()); NULL off the list
-- column: weeks_on_list_total: published weeks on the list up to and including this one
-- column: prev_unresolved_rate: unresolved_rate in the previous week; NULL when the unit
--   was off that list or the week was not published
-- column: prev_unit_group: the group the unit was printed in the previous week (differs
--   from unit_group when a Zhumadian unit moved); NULL when the unit was off that list or
--   the week was not published
-- column: prev_rank_in_group: rank_in_group in the previous week, within prev_unit_group;
--   NULL when the unit was off that list or the week was not published
-- column: rank_change: prev_rank_in_group - rank_in_group: positive = the unit moved up
--   towards rank 1 (more unresolved than its peers); NULL unless on the list in the same
--   group both weeks (ranks in two groups do not compare)
-- column: resolves_nothing: on the list with every dispatched case unresolved
--   (dispatched = unresolved > 0, like 68/68); false off the list
-- column: overdue_share: unresolved / the city's overdue that week, 0..1; NULL when the
--   city's overdue is NULL or 0
with

weeks as (
    select * from core.published_weeks
),

bulletin_units as (
    select * from core.bulletin_units
),

-- units on a published week's lists, one row each: core.bulletin_checks keeps a bulletin
-- that lists a unit twice on one list out of the published weeks (and the unique_key test
-- would catch one that got through, where a sum would hide it)
listed as (
    select
        weeks.city,
        weeks.week_start,
        units.unit_list,
        units.unit_name,
        units.unit_group,
        units.dispatched::integer as dispatched,
        units.unresolved::integer as unresolved,
    from weeks
    inner join bulletin_units as units on units.bulletin_id = weeks.bulletin_id
),

ranked as (
    select
        *,
        rank() over (
            partition by city, week_start, unit_group
            order by unresolved desc nulls last
        ) as rank_in_group,
        case when dispatched > 0 then unresolved / dispatched end as unresolved_rate,
    from listed
),

-- on the city's previous published week's list, not on this week's (in any group)
left_the_list as (
    select
        weeks.city,
        weeks.week_start,
        prev.unit_list,
        prev.unit_name,
        prev.unit_group,
    from weeks
    inner join listed as prev
        on prev.city = weeks.city
        and prev.week_start = weeks.week_start - 7
    where not exists (
        select 1
        from listed as this_week
        where this_week.city = weeks.city
            and this_week.week_start = weeks.week_start
            and this_week.unit_list = prev.unit_list
            and this_week.unit_name = prev.unit_name
    )
),

unit_weeks as (
    select
        city,
        week_start,
        unit_list,
        unit_name,
        unit_group,
        true as on_list,
        dispatched,
        unresolved,
        unresolved_rate,
        rank_in_group,
    from ranked
    union all
    select
        city,
        week_start,
        unit_list,
        unit_name,
        unit_group,
        false as on_list,
        null::integer as dispatched,
        0 as unresolved,
        null::double as unresolved_rate,
        null::bigint as rank_in_group,
    from left_the_list
),

-- streaks: a new one starts when the unit's previous week on the list is not week_start - 7
streak_starts as (
    select
        city,
        week_start,
        unit_list,
        unit_name,
        case
            when lag(week_start) over (partition by city, unit_list, unit_name order by week_start)
                = week_start - 7
                then 0
            else 1
        end as starts_streak,
    from listed
),

streak_ids as (
    select
        city,
        week_start,
        unit_list,
        unit_name,
        sum(starts_streak) over (
            partition by city, unit_list, unit_name
            order by week_start
            rows between unbounded preceding and current row
        ) as streak_id,
    from streak_starts
),

streaks as (
    select
        city,
        week_start,
        unit_list,
        unit_name,
        row_number() over (
            partition by city, unit_list, unit_name, streak_id
            order by week_start
        ) as weeks_on_list_streak,
    from streak_ids
),

joined as (
    select
        unit_weeks.city,
        unit_weeks.week_start,
        weeks.week_end,
        weeks.period_label,
        unit_weeks.unit_name,
        unit_weeks.unit_group,
        unit_weeks.unit_list,
        unit_weeks.on_list,
        unit_weeks.dispatched,
        unit_weeks.unresolved,
        unit_weeks.unresolved_rate,
        prev_week.week_start is not null as prev_week_published,
        case when prev_week.week_start is not null then prev.unit_name is not null end as prev_on_list,
        prev.dispatched as prev_dispatched,
        case
            when prev_week.week_start is null then null
            when prev.unit_name is null then 0
            else prev.unresolved
        end as prev_unresolved,
        prev.unresolved_rate as prev_unresolved_rate,
        prev.unit_group as prev_unit_group,
        prev.rank_in_group as prev_rank_in_group,
        coalesce(streaks.weeks_on_list_streak, 0) as weeks_on_list_streak,
        sum(unit_weeks.on_list::integer) over (
            partition by unit_weeks.city, unit_weeks.unit_list, unit_weeks.unit_name
            order by unit_weeks.week_start
            rows between unbounded preceding and current row
        )::bigint as weeks_on_list_total,
        unit_weeks.rank_in_group,
        weeks.overdue as city_overdue,
    from unit_weeks
    inner join weeks
        on weeks.city = unit_weeks.city
        and weeks.week_start = unit_weeks.week_start
    left join weeks as prev_week
        on prev_week.city = unit_weeks.city
        and prev_week.week_start = unit_weeks.week_start - 7
    left join ranked as prev
        on prev.city = unit_weeks.city
        and prev.week_start = unit_weeks.week_start - 7
        and prev.unit_list = unit_weeks.unit_list
        and prev.unit_name = unit_weeks.unit_name
    left join streaks
        on streaks.city = unit_weeks.city
        and streaks.week_start = unit_weeks.week_start
        and streaks.unit_list = unit_weeks.unit_list
        and streaks.unit_name = unit_weeks.unit_name
),

final as (
    select
        city,
        week_start,
        week_end,
        period_label,
        unit_name,
        unit_group,
        unit_list,
        on_list,
        dispatched,
        unresolved,
        unresolved_rate,
        prev_week_published,
        prev_on_list,
        prev_dispatched,
        prev_unresolved,
        unresolved - prev_unresolved as unresolved_change,
        (unresolved_rate - prev_unresolved_rate) * 100 as unresolved_rate_change_pp,
        weeks_on_list_streak,
        case
            when not prev_week_published then null
            when on_list and prev_on_list then 'stayed'
            when on_list then 'entered'
            else 'left'
        end as list_change,
        rank_in_group,
        weeks_on_list_total,
        prev_unresolved_rate,
        prev_unit_group,
        prev_rank_in_group,
        case when prev_unit_group = unit_group then prev_rank_in_group - rank_in_group end as rank_change,
        case
            when not on_list then false
            else dispatched > 0 and unresolved = dispatched
        end as resolves_nothing,
        case when city_overdue > 0 then unresolved / city_overdue end as overdue_share,
    from joined
    order by city asc, week_start asc, unit_group asc, on_list desc, rank_in_group asc, unit_name asc, unit_list asc
)

select * from final
