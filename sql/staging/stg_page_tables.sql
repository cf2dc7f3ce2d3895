-- grain: one row per table cell (file_sha256, table_no, row_no, column_no) of a taken file.
with

cells as (
    select * from raw.page_tables
),

files as (
    select * from staging.stg_files
),

taken as (
    select
        cells.file_sha256,
        cells.table_no,
        cells.layout,
        cells.row_no,
        cells.column_no,
        cells.header,
        cells.text,
        cells.number,
        cells.line_no,
        cells.source,
        files.issue_date,
        cells.batch_id,
    from cells
    inner join files on files.file_sha256 = cells.file_sha256
),

final as (
    select *
    from taken
    qualify row_number() over (
        partition by file_sha256, table_no, row_no, column_no order by batch_id desc
    ) = 1
)

select * from final
