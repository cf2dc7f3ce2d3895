-- fails: a unit name in the marts that is empty, or an alias of another name in its city
-- (names are folded once, in Python: flows.parsing.names.normalize_name, stored in the lake)
with

unit_weeks as (
    select * from marts.unit_week_performance
),

aliases as (
    select * from seeds.unit_aliases
),

final as (
    select
        unit_weeks.city,
        unit_weeks.week_start,
        unit_weeks.unit_name,
        aliases.canonical,
    from unit_weeks
    left join aliases
        on aliases.city = unit_weeks.city
        and aliases.alias_key = unit_weeks.unit_name
    where aliases.canonical <> unit_weeks.unit_name
        or unit_weeks.unit_name = ''
)

select * from final
