-- fails: a week whose count of units on the list differs from the overdue_units its
-- bulletin prints (formats that print no such count, like Sanmenxia's, are not tested)
with

weeks as (
    select * from core.published_weeks
),

unit_weeks as (
    select * from marts.unit_week_performance
),

listed as (
    select
        city,
        week_start,
        count(*) as units_on_list,
    from unit_weeks
    where on_list
    group by city, week_start
),

final as (
    select
        weeks.city,
        weeks.week_start,
        weeks.bulletin_id,
        weeks.overdue_units,
        coalesce(listed.units_on_list, 0) as units_on_list,
    from weeks
    left join listed
        on listed.city = weeks.city
        and listed.week_start = weeks.week_start
    where weeks.overdue_units is not null
        and weeks.overdue_units <> coalesce(listed.units_on_list, 0)
)

select * from final
