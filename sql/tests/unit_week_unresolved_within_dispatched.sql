-- fails: a unit with more unresolved cases than cases dispatched to it
select
    city,
    week_start,
    unit_list,
    unit_group,
    unit_name,
    dispatched,
    unresolved,
from marts.unit_week_performance
where unresolved > dispatched
