-- fails: a unit mart row missing a key or a flag every row must have
select *
from marts.unit_week_performance
where week_start is null
    or week_end is null
    or unit_name is null
    or unit_name = ''
    or on_list is null
    or prev_week_published is null
    or unresolved is null
    or weeks_on_list_streak is null
    or weeks_on_list_total is null
