-- grain: one row per lake batch loaded into this warehouse (ingest.batches, and any batch
--   with entries in ingest.files).
-- unique_key: batch_id
-- not_null: batch_id, entries_count, current_count, loaded_count, partial_count,
--   quarantined_count, duplicate_count, skipped_count, forgotten_count, status, reasons
-- materialized: table
-- description: Each loaded lake batch's state, in one place: its entries counted by the
--   status core.files gives them now (a run's summary sums its batches' rows). An entry
--   counts while it is its path's current content: a path recorded again by a later batch
--   counts there. The lake's own states of a batch (written, set aside, restored, migrated)
--   stay in the lake's record, lake/_batches: a batch set aside never reaches the warehouse,
--   and the record's `loaded` row is appended after the warehouse commits, so a copy here
--   would lag a run behind; ingest.batches, written in the load's transaction, says loaded.
--   Unlike the rest of core it is loading history: it differs between a warehouse and its
--   rebuild (loaded_at) and with how the inbox was split into runs (the batch ids).
-- column: batch_id: lake batch id (ingest.batches; lake/_batches records its lake states)
-- column: loaded_at: when the warehouse loaded the batch (ingest.batches; the load writes
--   it in the transaction that writes the batch's entries)
-- column: entries_count: inbox entries the batch recorded (ingest.files)
-- column: current_count: of those, the entries still their path's current content (core.files)
-- column: loaded_count: current entries loaded
-- column: partial_count: current entries partial
-- column: quarantined_count: current entries quarantined (a data test's hold included)
-- column: duplicate_count: current entries duplicate
-- column: skipped_count: current entries skipped (not read)
-- column: forgotten_count: current entries forgotten on record
-- column: status: needs_attention (an entry partial, quarantined or skipped), loaded (every
--   current entry loaded, duplicate or forgotten) or replaced (every entry's path was
--   recorded again by a later batch)
-- column: reasons: why the batch needs attention or was replaced (counts of its entries by
--   status; core.files has each entry's reasons)
with

batches as (
    select * from ingest.batches
),

entries as (
    select * from ingest.files
),

files as (
    select * from core.files
),

-- each path's current content and the batch that recorded it (as core.files picks it)
current_entries as (
    select
        path,
        batch_id,
    from entries
    qualify row_number() over (partition by path order by ingest_seq desc, batch_id desc) = 1
),

entry_counts as (
    select
        batch_id,
        count(*) as entries_count,
    from entries
    group by batch_id
),

status_counts as (
    select
        current_entries.batch_id,
        count(*) as current_count,
        count(*) filter (where files.status = 'loaded') as loaded_count,
        count(*) filter (where files.status = 'partial') as partial_count,
        count(*) filter (where files.status = 'quarantined') as quarantined_count,
        count(*) filter (where files.status = 'duplicate') as duplicate_count,
        count(*) filter (where files.status = 'skipped') as skipped_count,
        count(*) filter (where files.status = 'forgotten') as forgotten_count,
    from current_entries
    inner join files on files.path = current_entries.path
    group by current_entries.batch_id
),

batch_ids as (
    select batch_id from batches
    union
    select batch_id from entry_counts
),

counted as (
    select
        batch_ids.batch_id,
        batches.loaded_at,
        coalesce(entry_counts.entries_count, 0) as entries_count,
        coalesce(status_counts.current_count, 0) as current_count,
        coalesce(status_counts.loaded_count, 0) as loaded_count,
        coalesce(status_counts.partial_count, 0) as partial_count,
        coalesce(status_counts.quarantined_count, 0) as quarantined_count,
        coalesce(status_counts.duplicate_count, 0) as duplicate_count,
        coalesce(status_counts.skipped_count, 0) as skipped_count,
        coalesce(status_counts.forgotten_count, 0) as forgotten_count,
    from batch_ids
    left join batches on batches.batch_id = batch_ids.batch_id
    left join entry_counts on entry_counts.batch_id = batch_ids.batch_id
    left join status_counts on status_counts.batch_id = batch_ids.batch_id
),

final as (
    select
        *,
        case
            when partial_count + quarantined_count + skipped_count > 0 then 'needs_attention'
            when current_count = 0 and entries_count > 0 then 'replaced'
            else 'loaded'
        end as status,
        list_concat(
            case when partial_count > 0 then [partial_count || ' partial'] else [] end,
            case when quarantined_count > 0 then [quarantined_count || ' quarantined'] else [] end,
            case when skipped_count > 0 then [skipped_count || ' skipped'] else [] end,
            case
                when current_count = 0 and entries_count > 0
                    then ['every entry recorded again by a later batch']
                else []
            end
        ) as reasons,
    from counted
)

select * from final
