-- fails: a week_start with more than one row in the city mart
select
    week_start,
    count(*) as row_count,
from marts.city_week_performance
group by week_start
having count(*) > 1
