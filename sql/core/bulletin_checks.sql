-- grain: one row per bulletin and warehouse rule it breaks (bulletin_id, check_name).
-- unique_key: bulletin_id, check_name
-- not_null: bulletin_id, file_sha256, seq, check_name, detail
-- materialized: table
-- description: Rules on one bulletin that only the warehouse can check, because they need
--   what lives there (the alias seed). A bulletin that breaks one is treated like one that
--   fails a parser check: it stays out of the marts (core.bulletins.failed_checks) and its
--   file is partial (core.files), with the rule and the reason.
-- column: bulletin_id: the bulletin (core.bulletins)
-- column: file_sha256: sha256 of the source file (lineage)
-- column: seq: 1-based order of the bulletin in its file
-- column: period_start: first day of the week reported
-- column: check_name: the rule broken: units_unique_after_aliases (no two rows of a
--   bulletin's list, core.bulletin_units.unit_list (Sanmenxia: of one channel), name the
--   same canonical unit, e.g. 驿城区政府 and 驿城区人民政府)
-- column: detail: what broke it, e.g. "驿城区政府 printed as 驿城区政府 and 驿城区人民政府"
with

units as (
    select * from core.bulletin_units
),

bulletins as (
    select * from staging.stg_bulletins
),

-- canonical units listed more than once on one list of a bulletin (Zhumadian's groups are
-- one list; Sanmenxia lists a department once per channel)
units_twice as (
    select
        bulletin_id,
        unit_list,
        unit_name,
        string_agg(unit_name_raw, ' and ' order by row_no) as spellings,
    from units
    group by bulletin_id, unit_list, unit_name
    having count(*) > 1
),

broken as (
    select
        bulletin_id,
        'units_unique_after_aliases' as check_name,
        string_agg(unit_name || ' printed as ' || spellings, '; ' order by unit_name, unit_list) as detail,
    from units_twice
    group by bulletin_id
),

final as (
    select
        broken.bulletin_id,
        bulletins.file_sha256,
        bulletins.seq,
        bulletins.period_start,
        broken.check_name,
        broken.detail,
    from broken
    inner join bulletins on bulletins.bulletin_id = broken.bulletin_id
)

select * from final
