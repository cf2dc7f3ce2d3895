-- fails: a city mart row missing a key or a flag every row must have
select *
from marts.city_week_performance
where week_start is null
    or week_end is null
    or bulletin_id is null
    or prev_week_published is null
    or units_on_list is null
