-- grain: one row per item (file_sha256, seq) on a page of a taken file.
-- unique_key: file_sha256, seq
-- not_null: file_sha256, seq, kind, reporters, correspondents, photographers, authors,
--   body, line_start, line_end
-- description: Articles of the pages: news, photos, commentary and the bulletins' text.
-- column: file_sha256: sha256 of the source file (lineage)
-- column: seq: 1-based position of the item on the page
-- column: section: the page's section name (时政要闻)
-- column: kind: news, photo, commentary or bulletin
-- column: kicker: kicker line above the title (引题)
-- column: title: title line
-- column: subtitle: subtitle line
-- column: reporters: reporters named in the byline (记者)
-- column: correspondents: correspondents named in the byline (通讯员)
-- column: photographers: photo credits (记者 X 摄)
-- column: authors: commentary authors (after □)
-- column: event_date: date in the lead, year taken from the issue
-- column: body: normalised paragraphs, joined by newlines
-- column: editor_code: editor's code at the end of the item, as printed (②6)
-- column: issue_date: date of the newspaper issue the page belongs to
-- column: line_start: first line of the item in the decoded file
-- column: line_end: last line of the item in the decoded file
with

articles as (
    select * from staging.stg_articles
),

final as (
    select
        file_sha256,
        seq,
        section,
        kind,
        kicker,
        title,
        subtitle,
        reporters,
        correspondents,
        photographers,
        authors,
        event_date,
        body,
        editor_code,
        issue_date,
        line_start,
        line_end,
    from articles
)

select * from final
