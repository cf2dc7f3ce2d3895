-- fails: two units of one group and period whose ranks contradict their scores (a higher
-- score with a worse rank, or one score with two ranks)
with

scores as (
    select * from marts.unit_period_scores
),

final as (
    select
        better.city,
        better.period_kind,
        better.period_start,
        better.unit_group,
        better.bulletin_id,
        better.unit_name,
        better.score,
        better.rank,
        other.unit_name as other_unit_name,
        other.score as other_score,
        other.rank as other_rank,
    from scores as better
    inner join scores as other
        on other.bulletin_id = better.bulletin_id
        and other.unit_group = better.unit_group
        and other.unit_name <> better.unit_name
    where better.rank is not null
        and other.rank is not null
        and (
            (better.score > other.score and better.rank >= other.rank)
            or (better.score = other.score and better.rank <> other.rank)
        )
)

select * from final
