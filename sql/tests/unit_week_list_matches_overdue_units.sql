-- fails: a week whose count of units on the list differs from the bulletin's overdue_units
with

weeks as (
    select * from core.published_weeks
),

unit_weeks as (
    select * from marts.unit_week_performance
),

listed as (
    select
        week_start,
        count(*) as units_on_list,
    from unit_weeks
    where on_list
    group by week_start
),

final as (
    select
        weeks.week_start,
        weeks.bulletin_id,
        weeks.overdue_units,
        coalesce(listed.units_on_list, 0) as units_on_list,
    from weeks
    left join listed on listed.week_start = weeks.week_start
    where weeks.overdue_units is distinct from coalesce(listed.units_on_list, 0)
)

select * from final
