-- fails: an inbox path recorded in ingest.files without exactly one row in core.files (the
-- one home of a file's state: a path missing there is never reported, one twice is counted twice)
with

entries as (
    select distinct path from ingest.files
),

files as (
    select * from core.files
),

file_rows as (
    select
        path,
        count(*) as row_count,
    from files
    group by path
),

final as (
    select
        entries.path,
        coalesce(file_rows.row_count, 0) as core_files_rows,
    from entries
    left join file_rows on file_rows.path = entries.path
    where coalesce(file_rows.row_count, 0) <> 1
)

select * from final
