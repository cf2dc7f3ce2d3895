-- fails: a bulletin_id with more than one row in core.bulletins
select
    bulletin_id,
    count(*) as row_count,
from core.bulletins
group by bulletin_id
having count(*) > 1
