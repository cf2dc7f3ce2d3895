"""The notes at the end of BENCHMARKS.md: what the flow does beyond the floor and why, and what
still stands between it and the targets (edit them here; `make bench` writes the file)."""

NOTES = """## Reading the figures

What the flow does beyond the floor, and why (issue 9):

- **The parser** skips work a line cannot need: no photo-credit search unless the text
  ends in 摄, no editor-code search unless the line ends in a digit (or 摄), no control
  and space folding on a printable line (every character those change is unprintable),
  one NFKC call per page rather than per line (a newline is a normalisation boundary), no
  title search on a line without 通报, and a photo item known as its captions come.
  Decoding tries strict UTF-8 first and finds suspect characters in the bytes; a page
  is checked for NFKC once and normalised line by line only when it must be; the
  per-line records are plain slots classes. Each fast path is commented with why it is
  equivalent and tested against the slow way (`tests/test_parsing_fast_paths.py`); every
  file of the corpus, the shared samples and the fixtures parses to an identical result.
- **Small runs** (up to 16 MB of new pages) parse in the run's own process: a pool
  worker is a new process that imports the parser and pyarrow before its first batch,
  which costs more than a day's pages take to parse.
- **A backfill** goes to a process pool opened for the parse stage only, in an even
  number of large batches per worker (rows go to Parquet a row group at a time, so a
  batch's size does not grow memory). The pool runs `ingest.process_batch` itself, not a
  Prefect task: its spawned workers import the parser, pyarrow and deltalake (about a
  quarter of a second each), never Prefect, whose task engine cost each worker seconds
  and some 190 MB before its first batch (issue 19: the stage went from 11.2 s to about
  6 s at 10 years, the tree's peak RSS from 1,087 MB to under 900 MB). A spawned worker
  re-imports the console script, whose entry point (`flows.launcher`) imports nothing
  until it runs. The workers exit before the load. The tree's peak is the parse stage (the run's process, the workers, Prefect's
  server); the load's is DuckDB's, which keeps under 256 MB per writer (it spills past it).
- **The load** is one `insert ... select` from `read_parquet` over the new parts per
  table; what it costs is DuckDB compressing the article text, which `raw.articles`
  stores with zstd (half the CPU of DuckDB's default for text, a fifth of the bytes).
  It spilled too: DuckDB holds a transaction's rows in memory until a row group is full,
  and its default row group (122,880 rows, 350 MB of articles) held a 10-year load
  whole, past the writer's 256 MB (`db.WRITER_MEMORY_LIMIT`: a load's memory does not
  grow with the backfill), written out and read back at commit. A writer now writes
  row groups of 16,384 rows (`db.WRITER_ROW_GROUP_ROWS`): the 10-year articles load
  alone went from 1.9-2.0 s and a 420 MB peak to 0.85 s and 306 MB, the table 7%
  larger.
- **The data tests and the marts** read `staging.stg_files` and the small core models
  as tables, built once per load (`-- materialized: table`): as views, each of the
  many queries that read them computed them again from every file recorded, so a small
  run's build grew with the archive.
- **Prefect's temporary server** starts first, in its own process, while the command
  imports Prefect and the flow; Prefect's own starter would import the whole server
  stack into the command too. The process-global Prefect settings point at that server,
  so nothing Prefect starts later in the run (Prefect's own process pool did, when the
  flow used it) starts a second temporary server.
- **No flow-run heartbeats** on the temporary server, nor on serve's server unless
  `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` is set: Prefect joins its heartbeat thread at the
  end of every flow run, in 1-s sleeps (0.87 s of a 2.1 s flow, measured).
- **While `bulletins serve` runs**, `bulletins run` uses its server: no temporary server
  to start or stop.
- **Fewer task runs**: each costs 0.1-0.2 s of API round trips. The marts' Parquet copy
  is written at the end of `load-and-build`, and `notify` runs only with a webhook.
- **The weekly report's charts** are inline SVG from our own small code
  (`flows/reporting/charts.py`, about 0.02 s a report): no plotting library to import.

What still stands between the flow and the targets:

- **A run from the shell waits for Prefect's temporary server** ("Prefect's temporary
  server alone" above): its process imports FastAPI, SQLAlchemy and every API route and
  checks its database before it answers, then shuts down cleanly. That alone is the
  4 s a run with nothing new may take; the command's own work comes on top. With
  `bulletins serve` running (or `PREFECT_API_URL` pointing at a server), the start and
  stop leave the run: see "The same two runs while `bulletins serve` runs".
- **The parse stage against the parser alone** ("the least the stage could take"): the
  parser alone reads each file and parses it; the stage also hashes each file again
  (its bytes must be the ones planned), turns rows into Arrow columns, compresses them
  into Parquet with page checksums and commits each batch to six Delta tables, and its
  workers are spawned. Sampled with py-spy over a batch of 7,300 pages, a worker spends
  71% of its time in the parser, 16% in the lake writes (Arrow conversion and Parquet,
  about half each), 6% reading, 2% building rows and the rest hashing and committing.
  For 80% of the parser alone on two cores, all the stage adds to the parser would have
  to fit in a quarter of the parser's worker-seconds: about 2.3 worker-s at 10 years,
  where the lake writes alone took 2.47 (read and hash 1.00, idle workers 0.94) in the
  bench of 2026-12-05 12:34 UTC (2.13, 0.85 and 0.82 in the one of 10:28). So the stage
  cannot reach 80% on two cores without dropping part of the lake's own work; what it no
  longer wastes:
  - the cycle collector ran 445 times over a batch of 7,300 pages (0.15-0.2 CPU-s, 4-5%):
    `process_batch` raises its first threshold to 50,000 (`gc_pacing`), two runs a
    batch, the same peak memory;
  - the small tables' rows wait for 8,192 rows before a row group (each row group of
    each column has headers, statistics and checksums of its own): 0.11 CPU-s less per
    7,300 pages;
  - converting rows a column at a time saved 0.1 CPU-s per 7,300 pages for a rewrite of
    the row building (dropped); zstd at level 1, no dictionary for the text columns, or
    a plain `os.read` for each page changed nothing measurable.
- **This bench's own memory sampler** read every process of the tree every 50 ms at
  full priority: some 2 CPU-s of the 10-year parse stage's two cores, the stage 1-2 s
  slower for it (the same peak). It now reads every 0.2 s at the lowest priority.
- **Warm Dask workers** start nothing, but each task still costs its submission, the
  scheduler's unpickling (the warm cluster's scheduler imports the task's modules
  before the first run: they cost the first run 1.1 s when it did not) and Prefect's
  task engine on the worker, a few tenths of a second in all ("idle from the stage's
  start" above). A Dask worker parsed some 4-10% slower than a pool worker before the
  collector was paced (a Dask worker's heap holds its own objects too, which each full
  collection walks); paced, the 10-year warm stage went from 9.45 to 8.25 s (two
  interleaved pairs), and the gap is 3-10% (parsing worker-s, warm against pool: 8.61
  against 8.18, 9.08 against 8.80 and 10.22 against 9.29 in three benches of 2026-12-05).
  Apart from a run (two warm workers, two batches of 7,300 pages, sent with and without
  Prefect's task engine) a Dask worker reads, parses and writes as fast as a pool worker:
  what the runs add is the scheduler, serve's server and the run beside them on two cores.
  Dask's statistical profiler, which samples the task's stack every 10 ms for a dashboard
  the warm cluster does not have, is off there (some 5%: 7.65 to 7.23 s, four interleaved
  pairs).
- **Verify and plan grow with the archive**: verify reads every block of the warehouse
  before a run writes (damage anywhere stops the run), and plan lists and stats every
  file of the inbox, the whole archive. Both are a few tenths of a second at 10 years.
  The run's summary no longer looks at every recorded path again: it reads the plan's
  own listing of the inbox (it did, 0.3 s at 10 years). A backfill's plan also hashes
  every new file and records the plan before anything is parsed, on one core: in
  isolation some 0.5 s of hashing, 0.15 s of listing and 0.2 s of recording the plan at
  10 years. The cycle collector is paced there too (`gc_pacing`): it walked the run's
  whole heap, Prefect's included, for 0.10-0.12 s of the plan. An inbox no longer in
  memory is read from disk (this machine pages out file pages left idle for about a
  minute: hashing the 10-year inbox took 2.06 s on a corpus idle for ten minutes, 0.50 s
  right after a read), so the plan opens the next 16 files to hash ahead and asks the
  kernel to read them in (`hash_ahead`): planning the 10-year inbox after dropping the
  page cache went from 2.81-2.91 s to 1.87-1.97 s, in memory unchanged (0.69-0.76 s).
  That is not why the 10-year backfill's plan takes 1.7-2.0 s in the whole bench (five
  benches of 2026-12-05, the last with the read-ahead) and about 1.0 s in a run from the
  shell or a bench of the 10-year scale alone: in the bench's run the plan was busy, not
  waiting (`plan_run` 1.68 s, 1.62 CPU-s of the run's process), where the same inbox
  planned in a process of its own took 0.9-1.0 s. Where the rest of that CPU goes is
  not found yet.
- **The 15 s backfill follows the machine's speed of the day.** In three benches of
  2026-12-05 before the writer's smaller row groups, the parser alone on 2 cores took
  4.05, 4.27 and 4.70 s; the backfill from the shell while serve runs 13.40, 13.59 and
  15.26 s; as serve's scheduled runs 13.70, 14.55 and 16.09 s: 3.2-3.4× the parser
  alone. In the three since (14:22, 14:53 and 15:37 UTC), the parser alone took 4.62,
  4.19 and 4.20 s; the backfill from the shell 14.35, 12.09 and 13.28 s; as scheduled
  runs 15.03, 13.33 and 13.28 s: 2.9-3.3×. The target holds where the parser alone takes
  under about 4.5 s.
- **Wall figures from a shared machine** are not the machine's: the CPU figures and the
  breakdown say where the time goes; re-run `make bench` on a quiet machine for the
  wall-clock targets.
"""
