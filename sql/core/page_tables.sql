-- grain: one row per cell (file_sha256, table_no, row_no, column_no) of every table found
--   on a page of a taken file, whether or not a bulletin format reads it.
-- unique_key: file_sha256, table_no, row_no, column_no
-- not_null: file_sha256, table_no, layout, row_no, column_no, text, line_no
-- description: Every table on every page, as rows of cells (flows/parsing/page_tables.py
--   finds them in the page's lines: pipe rows, tab-separated rows, Sanmenxia's one cell
--   per line, Zhumadian's aligned name-and-numbers rows). A city's figures are queryable
--   here before a format reads them (README: Reading a page); join core.articles on
--   file_sha256 and the line numbers to see the text around a table.
-- column: file_sha256: sha256 of the source file (lineage)
-- column: table_no: 1-based order of the table on the page
-- column: layout: how the table was printed: pipe (a | b |), tabs, cell_per_line (one cell
--   per line under a header of one column name per line), column_list (names, then as many
--   numbers), aligned (a name and numbers split by spaces)
-- column: row_no: 1-based row of the table; the header is not a row
-- column: column_no: 1-based column of the row
-- column: header: the header text of the column (派遣数); NULL when the table prints no
--   header for it
-- column: text: the cell as printed (NFKC, trimmed)
-- column: number: the number when the whole cell is one, units and % dropped, as printed
--   (1013件 -> 1013, 98.5% -> 98.5, 99.02分 -> 99.02); NULL otherwise (names, 1,013, 无数据)
-- column: line_no: line of the cell in the decoded file (lineage)
-- column: source: where the file holds the cell, for a table of a web page, Word, Excel or
--   PDF file (line 120 of the HTML, Sheet1!B3); NULL for a text page and for a cell covered
--   by another's span
-- column: issue_date: date of the newspaper issue the page belongs to
with

cells as (
    select * from staging.stg_page_tables
),

final as (
    select
        file_sha256,
        table_no,
        layout,
        row_no,
        column_no,
        header,
        text,
        number,
        line_no,
        source,
        issue_date,
    from cells
)

select * from final
