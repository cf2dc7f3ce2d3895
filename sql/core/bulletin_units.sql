-- grain: one row per unit row (bulletin_id, row_no) of a bulletin in core.bulletins.
-- unique_key: bulletin_id, row_no
-- not_null: bulletin_id, row_no, unit_name_raw, unit_name, line_no, file_sha256
-- description: The units listed by each bulletin, with canonical names from
--   seeds.unit_aliases (sql/seeds/unit_aliases.csv).
-- column: bulletin_id: the bulletin the row belongs to (core.bulletins)
-- column: period_start: first day of the bulletin's week
-- column: unit_group: table group (市辖区(管委会)组, 市直单位及企业组)
-- column: unit_name_raw: unit name as printed (after NFKC)
-- column: unit_name: canonical unit name: the alias seed's canonical for the folded name
--   (whitespace removed), else the folded name itself
-- column: dispatched: cases dispatched to the unit (交办件)
-- column: unresolved: cases overdue at the unit (未办结件)
-- column: row_no: 1-based row order in the bulletin
-- column: line_no: line of the row in the decoded file
-- column: file_sha256: sha256 of the source file (lineage)
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
    from units
    inner join bulletins on bulletins.bulletin_id = units.bulletin_id
    left join aliases on aliases.alias_key = units.unit_name_key
)

select * from final
