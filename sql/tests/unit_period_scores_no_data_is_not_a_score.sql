-- fails: a unit printed 无数据 (no data) that has a score or a rank, or a score outside 0..100
with

scores as (
    select * from marts.unit_period_scores
),

final as (
    select
        city,
        period_kind,
        period_start,
        unit_group,
        unit_name,
        bulletin_id,
        no_data,
        score,
        rank,
    from scores
    where (no_data and (score is not null or rank is not null))
        or score < 0
        or score > 100
)

select * from final
