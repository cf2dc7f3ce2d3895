-- grain: one row per city, period kind (month, quarter), published period, group and
--   canonical unit printed in that period's scorecard or 月报, or on the bad list of the
--   previous period, published too, and not printed in this one that prints its group (a
--   unit that left the list).
-- unique_key: city, period_kind, period_start, unit_group, unit_name
-- not_null: city, period_kind, period_start, period_end, unit_group, unit_name, bulletin_id,
--   printed, no_data, on_bad_list, prev_period_start, prev_period_published,
--   bad_list_streak, bad_list_periods_total
-- description: Each unit's score, grade and rank in its city's monthly or quarterly
--   scorecard (Xuchang: by group, with 处置好/处置差 lists), and Sanmenxia's 月报 tables
--   (case counts, no score), compared with the previous period: the calendar month (or
--   quarter) before. Only bulletins that pass their checks and are not superseded count. A
--   previous period with no such bulletin is a gap: prev_period_published is false and
--   every prev_* and *_change column NULL. A unit is compared within its group.
-- column: city: the publishing city (许昌, 三门峡)
-- column: period_kind: month or quarter
-- column: period_start: first day of the period
-- column: period_end: last day of the period
-- column: period_label: the period as the publisher labels it (2021年10月份; 2021第2期)
-- column: unit_group: the group, a ranking of its own (建成区组; Sanmenxia: the channel)
-- column: unit_name: canonical unit name (sql/seeds/unit_aliases.csv, per city)
-- column: bulletin_id: the scorecard the period's rows come from (core.bulletins)
-- column: printed: true when the unit is printed in this period; false for a unit that
--   left the bad list and is not printed (the middle of a ranking is not printed)
-- column: score: score as printed (分); NULL for 无数据, when not printed, and for 月报 rows
-- column: no_data: true when printed 无数据 (no data: score NULL, never 0)
-- column: grade: grade as printed (优秀/良好/合格/不合格 等次); NULL where none is printed
-- column: rank: 1-based rank in the group, ties share one; NULL on a bad list (the units
--   between the lists are not printed), for 无数据 and where no score is printed
-- column: score_list: good (处置好), bad (处置差) or none (a group printed whole, a 月报
--   table); NULL when not printed
-- column: on_bad_list: true when the unit is on the group's 处置差 list this period
-- column: dispatched: 月报: cases dispatched to the unit (派遣数); NULL for scorecards
-- column: closed: 月报: cases the unit completed (完成数); NULL for scorecards
-- column: unresolved: 月报: cases not completed (未完成数); NULL for scorecards
-- column: closure_rate_published: 月报: the unit's rate as printed (完成率/结案率), 0..1;
--   NULL for scorecards
-- column: prev_period_start: first day of the previous period (a month or a quarter before)
-- column: prev_period_published: whether the city published the previous period (a
--   bulletin of that kind that passes its checks); false is a gap
-- column: prev_printed: whether the unit was printed in the previous period; NULL when it
--   was not published
-- column: prev_score: score in the previous period; NULL when not printed or not published
-- column: prev_grade: grade in the previous period; NULL when not printed or not published
-- column: prev_rank: rank in the previous period; NULL when unknown, not printed or not
--   published
-- column: prev_on_bad_list: whether the unit was on the previous period's bad list; NULL
--   when that period was not published or did not print the unit's group
-- column: score_change: score - prev_score; NULL unless both are printed
-- column: rank_change: prev_rank - rank: positive = moved up towards rank 1; NULL unless
--   both ranks are known
-- column: grade_change: up, down or same against prev_grade (优秀 > 良好 > 合格 > 基本合格 >
--   不合格); NULL unless both grades are printed and known
-- column: bad_list_change: entered, stayed or left the bad list against the previous
--   period; NULL when the unit is off both lists, or prev_on_bad_list is NULL (the previous
--   period not published, or its group not printed in it)
-- column: bad_list_streak: consecutive published periods on the bad list ending with this
--   one, with no gap between (a period that did not print the group is a gap); 0 off the list
-- column: bad_list_periods_total: published periods on the bad list up to and including
--   this one
with

bulletins as (
    select * from core.bulletins
),

scores as (
    select * from core.bulletin_scores
),

units as (
    select * from core.bulletin_units
),

periods as (
    select
        city,
        period_kind,
        period_start,
        period_end,
        period_label,
        bulletin_id,
        (
            period_start - case period_kind when 'quarter' then interval 3 month else interval 1 month end
        )::date as prev_period_start,
    from bulletins
    where passes_checks
        and not superseded
        and period_start is not null
        and period_kind in ('month', 'quarter')
),

printed as (
    select
        periods.*,
        scores.unit_group,
        scores.unit_name,
        scores.score,
        scores.no_data,
        scores.grade,
        scores.rank,
        scores.score_list,
        null::integer as dispatched,
        null::integer as closed,
        null::integer as unresolved,
        null::decimal(9, 6) as closure_rate_published,
    from periods
    inner join scores on scores.bulletin_id = periods.bulletin_id
    union all by name
    select
        periods.*,
        units.unit_group,
        units.unit_name,
        null::decimal(9, 4) as score,
        false as no_data,
        null::varchar as grade,
        null::integer as rank,
        'none' as score_list,
        units.dispatched,
        units.closed,
        units.unresolved,
        units.closure_rate_published,
    from periods
    inner join units on units.bulletin_id = periods.bulletin_id
),

-- the groups each scorecard prints (a month may leave a group out: nothing is known of it)
printed_groups as (
    select distinct
        bulletin_id,
        unit_group,
    from printed
),

-- units on a published period's bad list that the next period, published and printing the
-- group, does not print
left_bad_list as (
    select
        periods.*,
        earlier.unit_group,
        earlier.unit_name,
        null::decimal(9, 4) as score,
        false as no_data,
        null::varchar as grade,
        null::integer as rank,
        null::varchar as score_list,
        null::integer as dispatched,
        null::integer as closed,
        null::integer as unresolved,
        null::decimal(9, 6) as closure_rate_published,
    from printed as earlier
    inner join periods
        on periods.city = earlier.city
        and periods.period_kind = earlier.period_kind
        and periods.prev_period_start = earlier.period_start
    inner join printed_groups
        on printed_groups.bulletin_id = periods.bulletin_id
        and printed_groups.unit_group = earlier.unit_group
    where earlier.score_list = 'bad'
        and not exists (
            select 1
            from printed as current_rows
            where current_rows.bulletin_id = periods.bulletin_id
                and current_rows.unit_group = earlier.unit_group
                and current_rows.unit_name = earlier.unit_name
        )
),

all_rows as (
    select
        *,
        true as printed,
    from printed
    union all by name
    select
        *,
        false as printed,
    from left_bad_list
),

compared as (
    select
        all_rows.*,
        coalesce(all_rows.score_list = 'bad', false) as on_bad_list,
        prev_periods.bulletin_id is not null as prev_period_published,
        case when prev_periods.bulletin_id is not null then prev.unit_name is not null end as prev_printed,
        prev.score as prev_score,
        prev.grade as prev_grade,
        prev.rank as prev_rank,
        case when prev_groups.bulletin_id is not null then coalesce(prev.score_list = 'bad', false) end
            as prev_on_bad_list,
    from all_rows
    left join periods as prev_periods
        on prev_periods.city = all_rows.city
        and prev_periods.period_kind = all_rows.period_kind
        and prev_periods.period_start = all_rows.prev_period_start
    left join printed_groups as prev_groups
        on prev_groups.bulletin_id = prev_periods.bulletin_id
        and prev_groups.unit_group = all_rows.unit_group
    left join printed as prev
        on prev.bulletin_id = prev_periods.bulletin_id
        and prev.unit_group = all_rows.unit_group
        and prev.unit_name = all_rows.unit_name
),

runs as (
    select
        *,
        -- a run on the bad list starts where the previous period's list did not hold the unit
        sum(case when on_bad_list and not coalesce(prev_on_bad_list, false) then 1 else 0 end) over (
            partition by city, period_kind, unit_group, unit_name order by period_start
        ) as run_no,
        case grade when '优秀' then 5 when '良好' then 4 when '合格' then 3 when '基本合格' then 2 when '不合格' then 1 end
            as grade_order,
        case prev_grade
            when '优秀' then 5 when '良好' then 4 when '合格' then 3 when '基本合格' then 2 when '不合格' then 1
        end as prev_grade_order,
    from compared
),

final as (
    select
        city,
        period_kind,
        period_start,
        period_end,
        period_label,
        unit_group,
        unit_name,
        bulletin_id,
        printed,
        score,
        no_data,
        grade,
        rank,
        score_list,
        on_bad_list,
        dispatched,
        closed,
        unresolved,
        closure_rate_published,
        prev_period_start,
        prev_period_published,
        prev_printed,
        prev_score,
        prev_grade,
        prev_rank,
        prev_on_bad_list,
        score - prev_score as score_change,
        prev_rank - rank as rank_change,
        case
            when grade_order > prev_grade_order then 'up'
            when grade_order < prev_grade_order then 'down'
            when grade_order = prev_grade_order then 'same'
        end as grade_change,
        case
            when prev_on_bad_list is null then null
            when on_bad_list and prev_on_bad_list then 'stayed'
            when on_bad_list then 'entered'
            when prev_on_bad_list then 'left'
        end as bad_list_change,
        case
            when on_bad_list
                then count(*) filter (where on_bad_list) over (
                    partition by city, period_kind, unit_group, unit_name, run_no order by period_start
                )
            else 0
        end as bad_list_streak,
        count(*) filter (where on_bad_list) over (
            partition by city, period_kind, unit_group, unit_name order by period_start
        ) as bad_list_periods_total,
    from runs
)

select * from final
