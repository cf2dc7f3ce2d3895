-- grain: one row per unit row (bulletin_id, row_no) of a bulletin in core.bulletins.
-- unique_key: bulletin_id, row_no
-- not_null: bulletin_id, city, row_no, unit_name_raw, unit_name, line_no, file_sha256, unit_list
-- materialized: table
-- description: The units listed by each bulletin, with canonical names from
--   seeds.unit_aliases (sql/seeds/unit_aliases.csv, per city), and the list each is on
--   (seeds.bulletin_formats: whether the format's groups are lists of their own).
-- column: bulletin_id: the bulletin the row belongs to (core.bulletins)
-- column: period_start: first day of the bulletin's week
-- column: unit_group: table group (市辖区(管委会)组, 市直单位及企业组; Sanmenxia: the channel,
--   12319城管热线, 数字城管平台)
-- column: unit_name_raw: unit name as printed (after NFKC)
-- column: unit_name: canonical unit name: the city's alias seed canonical for the folded
--   name (whitespace removed), else the folded name itself
-- column: dispatched: cases dispatched to the unit (交办件; Sanmenxia: 派遣数)
-- column: unresolved: cases overdue at the unit (未办结件; Sanmenxia: 未完成数, not completed)
-- column: row_no: 1-based row order in the bulletin
-- column: line_no: line of the row in the decoded file
-- column: file_sha256: sha256 of the source file (lineage)
-- column: city: the publishing city (驻马店, 三门峡)
-- column: period_label: the publisher's own label of the period (2021第7期); NULL when it
--   prints none (Zhumadian)
-- column: closed: cases the unit completed (Sanmenxia: 完成数); NULL where the format prints
--   none (Zhumadian)
-- column: closure_rate_published: the unit's rate as printed (Sanmenxia: 完成率 or 结案率,
--   closed / dispatched), 0..1; NULL where the format prints none (Zhumadian)
-- column: unit_list: the list the unit is on, which it is followed within from week to
--   week: its unit_group where the format's groups are lists of their own (Sanmenxia: the
--   channel); the city where the groups are parts of one list (Zhumadian: a unit printed
--   in the other group the next week is still on the same list)
with

units as (
    select * from staging.stg_bulletin_units
),

bulletins as (
    select * from staging.stg_bulletins
),

aliases as (
    select * from seeds.unit_aliases
),

formats as (
    select * from seeds.bulletin_formats
),

final as (
    select
        units.bulletin_id,
        bulletins.period_start,
        units.unit_group,
        units.unit_name_raw,
        -- unit_name_key: folded once, by flows.parsing.names.normalize_name, at ingest
        coalesce(aliases.canonical, units.unit_name_key) as unit_name,
        units.dispatched,
        units.unresolved,
        units.row_no,
        units.line_no,
        units.file_sha256,
        bulletins.city,
        bulletins.period_label,
        units.closed,
        units.closure_rate_published,
        -- NULL for a format no class declares (fails not_null: no silent default)
        case formats.groups_are_lists
            when true then units.unit_group
            when false then bulletins.city
        end as unit_list,
    from units
    inner join bulletins on bulletins.bulletin_id = units.bulletin_id
    left join aliases
        on aliases.city = bulletins.city
        and aliases.alias_key = units.unit_name_key
    left join formats on formats.format = bulletins.format
)

select * from final
