-- fails: a week where closed + in_progress + overdue + disputed is not due, when the city's
-- bulletin prints any of them (a missing one among printed ones fails too); a format that
-- prints none of them (Sanmenxia) has nothing to add up
select
    city,
    week_start,
    bulletin_id,
    due,
    closed,
    in_progress,
    overdue,
    disputed,
from marts.city_week_performance
where coalesce(due, closed, in_progress, overdue, disputed) is not null
    and closed + in_progress + overdue + disputed is distinct from due
