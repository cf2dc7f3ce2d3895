-- fails: a week with more than one bulletin feeding the marts
select
    week_start,
    count(*) as bulletin_count,
    list(bulletin_id order by bulletin_id) as bulletin_ids,
from core.published_weeks
group by week_start
having count(*) > 1
