-- grain: one row per article (file_sha256, seq) of a taken file.
with

articles as (
    select * from raw.articles
),

files as (
    select * from staging.stg_files
),

taken as (
    select
        articles.file_sha256,
        articles.seq,
        articles.section,
        articles.kind,
        articles.kicker,
        articles.title,
        articles.subtitle,
        articles.reporters,
        articles.correspondents,
        articles.photographers,
        articles.authors,
        articles.event_date,
        articles.body,
        articles.editor_code,
        articles.original_text,
        files.issue_date,
        articles.line_start,
        articles.line_end,
        articles.batch_id,
    from articles
    inner join files on files.file_sha256 = articles.file_sha256
),

final as (
    select *
    from taken
    qualify row_number() over (partition by file_sha256, seq order by batch_id desc) = 1
)

select * from final
