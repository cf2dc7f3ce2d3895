-- grain: one row per city and week printed but not published: a (city, period_start) whose
--   every bulletin failed a check not accepted on record.
-- unique_key: city, week_start
-- not_null: city, week_start, bulletin_id, file_sha256, failed_checks, printings_count
-- materialized: table
-- description: Weeks a city did print, whose bulletin failed a check: unlike a week with no
--   bulletin at all, their figures exist but cannot be trusted, so the marts leave them out
--   and compare across them as a gap with that reason (marts.city_week_performance
--   prev_week_status) and the weekly report says "通报未通过校验" with the check and its
--   numbers, never that nothing was published. The latest printing stands for the week.
-- column: city: the publishing city (驻马店, 三门峡)
-- column: week_start: first day of the week reported (period_start)
-- column: week_end: last day of the week reported (period_end)
-- column: period_label: the publisher's own label of the period (2021第7期); NULL when it
--   prints none (Zhumadian)
-- column: bulletin_id: the week's latest printing (core.bulletins: its figures and checks)
-- column: file_sha256: sha256 of its source file (lineage)
-- column: issue_date: issue date of the page it was printed in
-- column: failed_checks: the checks it failed and no one accepted, in failed_checks' order
-- column: printings_count: how many bulletins of this city's week core.bulletins holds
with

bulletins as (
    select * from core.bulletins
),

published as (
    select * from core.published_weeks
),

failing as (
    select
        *,
        count(*) over (partition by city, period_start) as printings_count,
    from bulletins
    where period_start is not null
        and period_kind = 'week'
        and not exists (
            select 1
            from published
            where published.city = bulletins.city
                and published.week_start = bulletins.period_start
        )
    qualify row_number() over (
        partition by city, period_start
        order by issue_date desc nulls last, ingest_seq desc, bulletin_id desc
    ) = 1
),

final as (
    select
        city,
        period_start as week_start,
        period_end as week_end,
        period_label,
        bulletin_id,
        file_sha256,
        issue_date,
        list_filter(failed_checks, lambda name: not list_contains(accepted_checks, name)) as failed_checks,
        printings_count,
    from failing
)

select * from final
