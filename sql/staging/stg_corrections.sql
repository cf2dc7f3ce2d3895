-- grain: one row per decision that stands (kind, file_sha256, check_name): the latest
--   decision on a file (forget) or on a file's failed check (accept), when it is not undone.
-- description: Corrections on record (ingest.corrections, from lake/_corrections): a file
--   forgotten leaves every model; a check accepted lets the file's bulletins that failed it
--   be published. An undo (unforget, unaccept) ends the decision before it.
with

corrections as (
    select * from ingest.corrections
),

keyed as (
    select
        *,
        case when action in ('forget', 'unforget') then 'forget' else 'accept' end as kind,
    from corrections
),

latest as (
    select *
    from keyed
    qualify row_number() over (
        partition by kind, file_sha256, coalesce(check_name, '')
        order by decided_at desc, decision_id desc, correction_id desc
    ) = 1
),

final as (
    select
        kind,
        file_sha256,
        path,
        check_name,
        note,
        decided_by,
        decided_at,
        decision_id,
    from latest
    where action in ('forget', 'accept')
)

select * from final
