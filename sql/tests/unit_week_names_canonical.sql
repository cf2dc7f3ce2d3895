-- fails: a unit name in the marts that is an alias of another name, or not folded
with

unit_weeks as (
    select * from marts.unit_week_performance
),

aliases as (
    select * from seeds.unit_aliases
),

final as (
    select
        unit_weeks.week_start,
        unit_weeks.unit_name,
        aliases.canonical,
    from unit_weeks
    left join aliases on aliases.alias_key = unit_weeks.unit_name
    where aliases.canonical <> unit_weeks.unit_name
        or regexp_matches(unit_weeks.unit_name, '[\s\v\p{Z}\x{1c}-\x{1f}\x{85}]')
)

select * from final
