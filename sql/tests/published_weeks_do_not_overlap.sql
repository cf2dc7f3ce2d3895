-- fails: two published weeks of one city whose periods overlap (their cases would be counted twice)
with

weeks as (
    select * from core.published_weeks
),

final as (
    select
        earlier.city,
        earlier.week_start,
        earlier.week_end,
        earlier.bulletin_id,
        later.week_start as overlapping_week_start,
        later.bulletin_id as overlapping_bulletin_id,
    from weeks as earlier
    inner join weeks as later
        on later.city = earlier.city
        and later.week_start > earlier.week_start
        and later.week_start <= earlier.week_end
)

select * from final
