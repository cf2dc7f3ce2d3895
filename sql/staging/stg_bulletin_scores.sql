-- grain: one row per unit score row (bulletin_id, row_no) of a scorecard read from a taken file.
with

scores as (
    select * from raw.bulletin_scores
),

bulletins as (
    select * from staging.stg_bulletins
),

taken as (
    select
        scores.bulletin_id,
        scores.file_sha256,
        scores.unit_group,
        scores.unit_name_raw,
        scores.unit_name_key,
        scores.score,
        scores.grade,
        scores.rank,
        scores.score_list,
        scores.no_data,
        scores.row_no,
        scores.line_no,
        scores.batch_id,
    from scores
    where exists (select 1 from bulletins where bulletins.bulletin_id = scores.bulletin_id)
),

final as (
    select *
    from taken
    qualify row_number() over (partition by bulletin_id, row_no order by batch_id desc) = 1
)

select * from final
