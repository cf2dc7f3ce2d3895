-- grain: one row per unit row (bulletin_id, row_no) of a bulletin in core.bulletins.
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

folded as (
    select
        units.*,
        -- the SQL twin of flows.names.normalize_name (the parser already applied NFKC):
        -- the characters Python's str.isspace() accepts
        regexp_replace(units.unit_name_raw, '[\s\v\p{Z}\x{1c}-\x{1f}\x{85}]+', '', 'g') as unit_name_key,
    from units
),

final as (
    select
        folded.bulletin_id,
        bulletins.period_start,
        folded.unit_group,
        folded.unit_name_raw,
        coalesce(aliases.canonical, folded.unit_name_key) as unit_name,
        folded.dispatched,
        folded.unresolved,
        folded.row_no,
        folded.line_no,
        folded.file_sha256,
    from folded
    inner join bulletins on bulletins.bulletin_id = folded.bulletin_id
    left join aliases on aliases.alias_key = folded.unit_name_key
)

select * from final
