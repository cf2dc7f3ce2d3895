-- grain: one row per unit score row (bulletin_id, row_no) of a scorecard in core.bulletins.
-- unique_key: bulletin_id, row_no
-- not_null: bulletin_id, city, period_kind, row_no, unit_group, unit_name_raw, unit_name,
--   score_list, no_data, line_no, file_sha256
-- materialized: table
-- description: Each unit's score in a monthly or quarterly scorecard (Xuchang: 名称(98.42分),
--   by group, with 处置好/处置差 lists), with canonical names from seeds.unit_aliases. A line
--   naming several units that share one score (甲、乙、丙(100分)) is a row per unit.
-- column: bulletin_id: the scorecard (core.bulletins)
-- column: city: the publishing city (许昌)
-- column: period_kind: month or quarter
-- column: period_start: first day of the month or quarter scored
-- column: period_end: last day of the month or quarter scored
-- column: unit_group: the group, a ranking of its own, as printed (县、市组, 建成区组,
--   市直及企事业单位组, 乡、镇、街道办事处组)
-- column: unit_name_raw: unit name as printed (after NFKC)
-- column: unit_name: canonical unit name: the city's alias seed canonical for the folded
--   name, else the folded name itself
-- column: score: score as printed (分); NULL for 无数据 (no data, never 0)
-- column: grade: grade as printed (优秀/良好/合格/不合格 等次); NULL where none is printed
-- column: rank: 1-based rank in the group, ties share one (甲、乙、丙(100分): 1, 1, 1, then
--   4); NULL on a bad list (the units between the lists are not printed) and for 无数据
-- column: score_list: good (处置好的单位), bad (处置差的单位) or none (a group printed whole)
-- column: no_data: true when printed 无数据
-- column: row_no: 1-based row order in the scorecard
-- column: line_no: line of the row in the decoded file
-- column: file_sha256: sha256 of the source file (lineage)
with

scores as (
    select * from staging.stg_bulletin_scores
),

bulletins as (
    select * from staging.stg_bulletins
),

aliases as (
    select * from seeds.unit_aliases
),

final as (
    select
        scores.bulletin_id,
        bulletins.city,
        bulletins.period_kind,
        bulletins.period_start,
        bulletins.period_end,
        scores.unit_group,
        scores.unit_name_raw,
        coalesce(aliases.canonical, scores.unit_name_key) as unit_name,
        scores.score,
        scores.grade,
        scores.rank,
        scores.score_list,
        scores.no_data,
        scores.row_no,
        scores.line_no,
        scores.file_sha256,
    from scores
    inner join bulletins on bulletins.bulletin_id = scores.bulletin_id
    left join aliases
        on aliases.city = bulletins.city
        and aliases.alias_key = scores.unit_name_key
)

select * from final
