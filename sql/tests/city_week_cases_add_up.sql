-- fails: a week where closed + in_progress + overdue + disputed is not due (NULLs fail too)
select
    week_start,
    bulletin_id,
    due,
    closed,
    in_progress,
    overdue,
    disputed,
from marts.city_week_performance
where closed + in_progress + overdue + disputed is distinct from due
