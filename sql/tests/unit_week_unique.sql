-- fails: a (week_start, unit_name) pair with more than one row in the unit mart
select
    week_start,
    unit_name,
    count(*) as row_count,
from marts.unit_week_performance
group by week_start, unit_name
having count(*) > 1
