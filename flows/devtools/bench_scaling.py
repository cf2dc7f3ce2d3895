"""The scaling table of `make bench` (issue 19): the parse stage and the backfill at 1, 2, …
workers, with a cold process pool and with warm Dask workers, each against the parser
alone on as many cores.

    python -m flows.devtools.bench_scaling --days 60      # a quick check: prints the table

- the parser alone: `bench_measure.parse_on_all_cores` (plain multiprocessing, start-up included);
- cold pool: `bulletins run` with BULLETINS_PARSE_WORKERS=n and every file sent to the
  pool (BULLETINS_INLINE_PARSE_MAX_BYTES=0): the pool is spawned by the run, as today;
- warm Dask: the same run with BULLETINS_DASK_ADDRESS naming a local cluster of n
  single-thread workers started before it (`serve`'s warm cluster: workers that have
  imported the parse modules), so the run pays no worker start; every file sent to it too.

Before the first row, one run on an empty inbox creates the Prefect home's database (not
counted: the first row's backfill paid it, some 6 s).

Each run is a backfill into a new warehouse. The parse stage's share is the parser
alone's seconds over the stage's (100 % = no overhead at all); the backfill is shown as
a multiple of the parser alone. Measures only: nothing asserts a speed.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flows.devtools.bench_measure import PAGES_PER_DAY, SEED, CliRun, corpus_files, parse_on_all_cores, run_cli
from flows.devtools.corpus import DEFAULT_START, days_in_years, write_corpus
from flows.settings import DASK_ADDRESS_ENV, usable_cores


def worker_counts(cores: int) -> list[int]:
    """1, 2, 4, … up to the usable cores, the cores themselves last.

    >>> worker_counts(2), worker_counts(6), worker_counts(16)
    ([1, 2], [1, 2, 4, 6], [1, 2, 4, 8, 16])
    """
    counts, n = [], 1
    while n < cores:
        counts.append(n)
        n *= 2
    return [*counts, max(cores, 1)]


@dataclass(frozen=True)
class ScalingRow:
    workers: int
    parser_s: float  # the parser alone on `workers` processes
    pool: CliRun  # cold process pool
    warm: CliRun  # warm Dask workers


def measure(inbox: Path, work: Path, counts: list[int], log: Callable[[str], None]) -> list[ScalingRow]:
    """Every row of the table, on the corpus in `inbox`."""
    from flows.orchestration.dask_cluster import warm_local_cluster

    paths = corpus_files(inbox)
    home = work / "prefect-home"
    # Not counted: the first run on a new Prefect home creates its database (some 6 s, the
    # bench's "first run ever"), which the first row's backfill paid.
    empty = work / "empty-inbox"
    empty.mkdir(parents=True, exist_ok=True)
    run_cli(empty, work / "first", home)
    shutil.rmtree(work / "first", ignore_errors=True)
    every_file_to_workers = {"BULLETINS_INLINE_PARSE_MAX_BYTES": "0"}  # however small the corpus
    rows = []
    for n in counts:
        log(f"scaling, {n} worker(s): the parser alone")
        parser_s = parse_on_all_cores(paths, n)
        log(f"scaling, {n} worker(s): backfill on a cold process pool")
        pool = run_cli(
            inbox,
            work / f"pool-{n}",
            home,
            {"BULLETINS_PARSE_WORKERS": str(n), **every_file_to_workers},
        )
        log(f"scaling, {n} worker(s): backfill on warm Dask workers")
        with warm_local_cluster(n) as address:
            warm = run_cli(inbox, work / f"warm-{n}", home, {DASK_ADDRESS_ENV: address, **every_file_to_workers})
        rows.append(ScalingRow(n, parser_s, pool, warm))
        for folder in (work / f"pool-{n}", work / f"warm-{n}"):
            shutil.rmtree(folder, ignore_errors=True)
    return rows


def table(rows: list[ScalingRow]) -> list[str]:
    """The Markdown table: one row per worker count."""

    def parse(run: CliRun, parser_s: float) -> str:
        stage = run.stages["parse"]
        return f"{stage:.2f} s ({parser_s / stage:.0%})"

    def backfill(run: CliRun, parser_s: float) -> str:
        return f"{run.wall_s:.2f} s ({run.wall_s / parser_s:.1f}×)"

    def idle(run: CliRun) -> str:
        return f"{run.stages.get('parse_idle_start', 0.0):.2f}"

    one = rows[0].warm.stages["parse"]
    lines = [
        "| workers | parser alone | parse stage, cold pool (share of the parser alone) | parse stage, warm Dask "
        "| backfill, cold pool (× parser alone) | backfill, warm Dask | idle before the first task, "
        "cold / warm (worker-s) | warm parse stage, speed-up over 1 worker |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.workers} | {r.parser_s:.2f} s | {parse(r.pool, r.parser_s)} | {parse(r.warm, r.parser_s)} | "
            f"{backfill(r.pool, r.parser_s)} | {backfill(r.warm, r.parser_s)} | {idle(r.pool)} / {idle(r.warm)} | "
            f"{one / r.warm.stages['parse']:.1f}× |"
        )
    return lines


def section(rows: list[ScalingRow], pages: int, megabytes: float) -> str:
    """BENCHMARKS.md's scaling section."""
    return "\n".join(
        [
            "## Scaling: parse workers, cold pool and warm Dask workers",
            "",
            f"A backfill of {pages:,} pages ({megabytes:.1f} MB) into a new warehouse at each worker count "
            "(`flows.devtools.bench_scaling`). Cold pool: the run spawns its process pool (every file sent "
            "to it); warm Dask: the run sends its parse tasks to a local Dask cluster of as many workers, "
            "started before it, as `bulletins serve` keeps one. Shares and multiples are against the "
            "parser alone on as many cores (plain multiprocessing, no Prefect).",
            "",
            *table(rows),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The scaling table alone, on a corpus of its own.")
    parser.add_argument(
        "--days", type=int, default=days_in_years(DEFAULT_START, 2), help="corpus days (default 2 years)"
    )
    parser.add_argument("--workers", default="", help="worker counts, comma-separated (default 1, 2, 4, … cores)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")] if args.workers else worker_counts(usable_cores())
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bulletins-scaling-", dir=args.work) as tmp:
        inbox = Path(tmp) / "inbox"
        log(f"writing the corpus: {args.days} days")
        stats = write_corpus(inbox, start=DEFAULT_START, days=args.days, pages_per_day=PAGES_PER_DAY, seed=SEED)
        rows = measure(inbox, Path(tmp), counts, log)
    print(section(rows, stats.pages, stats.bytes / 1e6))


if __name__ == "__main__":
    main()
