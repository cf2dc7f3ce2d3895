-- fails: a unit whose bad-list streak is not its previous period's plus one (or 1 after a
-- gap or a period off the list), or exceeds its total periods on the bad list
with

scores as (
    select * from marts.unit_period_scores
),

final as (
    select
        current_period.city,
        current_period.period_kind,
        current_period.period_start,
        current_period.unit_group,
        current_period.unit_name,
        current_period.bulletin_id,
        current_period.bad_list_streak,
        current_period.bad_list_periods_total,
        previous.bad_list_streak as prev_bad_list_streak,
    from scores as current_period
    left join scores as previous
        on previous.city = current_period.city
        and previous.period_kind = current_period.period_kind
        and previous.period_start = current_period.prev_period_start
        and previous.unit_group = current_period.unit_group
        and previous.unit_name = current_period.unit_name
    where current_period.bad_list_streak > current_period.bad_list_periods_total
        or (current_period.on_bad_list and current_period.bad_list_streak
            <> case when coalesce(current_period.prev_on_bad_list, false) then previous.bad_list_streak + 1 else 1 end)
        or (not current_period.on_bad_list and current_period.bad_list_streak <> 0)
)

select * from final
