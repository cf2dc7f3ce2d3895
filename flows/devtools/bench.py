"""`make bench`: the flow against its floor on a realistic corpus; prints the table, writes BENCHMARKS.md.

    python -m flows.devtools.bench                     # 2 and 10 years of 8 pages a day
    python -m flows.devtools.bench --years 1           # a quick run (also: BENCH_YEARS=1 make bench)

For each scale, in one run: the corpus (`flows.devtools.corpus`), then
- the floor: reading and decoding every file; the parser alone on one core and on all
  cores (plain multiprocessing, no Prefect); Python starting with Prefect imported;
- the flow, as `bulletins run --timings` from the shell (wall time, CPU of the whole
  process tree, peak RSS of the tree): an empty inbox, the backfill, a rerun with
  nothing new, one new day on top of the archive; each against its floor; the same
  while `bulletins serve` runs (its server takes the run), and the backfill as serve's
  scheduled runs make it (serve's server, the parse tasks on warm Dask workers);
- where the backfill's time went (the stage timings the run prints);
- the models alone and typical analyst queries on the warehouse.

Measures only: nothing asserts a speed (unit tests never time anything). Wall figures
need a quiet machine; the CPU column says what the work cost regardless of load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flows.devtools.corpus import DEFAULT_START, days_in_years, write_corpus
from flows.orchestration.dask_cluster import warm_local_cluster
from flows.orchestration.prefect_local import configure_prefect
from flows.settings import DASK_ADDRESS_ENV, PROJECT_DIR, Settings

configure_prefect()  # before anything imports Prefect: telemetry off, as for the CLI

# The measurements import Prefect's modules: after configure_prefect.
from flows.devtools.bench_measure import (  # noqa: E402
    PAGES_PER_DAY,
    SEED,
    CliRun,
    ReaderFigure,
    Scale,
    best_of,
    cli_query_s,
    corpus_files,
    models_alone_s,
    parse_files,
    parse_on_all_cores,
    python_with_prefect_s,
    query_s,
    read_decode_files,
    run_cli,
    serving,
    temporary_server_s,
)
from flows.devtools.bench_report import benchmarks_markdown  # noqa: E402


def input_readers(seconds: float, work: Path) -> list[ReaderFigure]:
    """The sample page as each kind of file people receive, read and parsed for about `seconds` each."""
    from flows.devtools import input_files as make
    from flows.inputs import parse_input
    from flows.parsing import ParsedPage

    text = make.sample_text()
    files = {
        "text (UTF-8)": (".txt", text.encode("utf-8")),
        "text (UTF-16 with BOM)": (".txt", text.encode("utf-16")),
        "web page (GBK, with navigation and scripts)": (".html", make.to_html("gb2312").encode("gbk")),
        "Word (.docx)": (".docx", make.to_docx()),
        "Excel (.xlsx)": (".xlsx", make.to_xlsx()),
        "PDF printed by Chromium (ruled tables)": (".pdf", make.to_pdf_chromium(work)),
    }
    figures = []
    for label, (suffix, data) in files.items():
        name = "2020-12-23_p" + suffix
        assert isinstance(parse_input(name, data), ParsedPage), label
        n, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            parse_input(name, data)
            n += 1
        figures.append(ReaderFigure(label, len(data), n / elapsed))
    return figures


def bench_scale(years: int, work: Path, workers: int, log: Callable[[str], None]) -> Scale:
    """Every figure of one scale: corpus, floor, flow runs, models, queries."""
    scale = Scale(years)
    root = work / f"{years}y"
    shutil.rmtree(root, ignore_errors=True)
    inbox, new_day, wh, empty = root / "inbox", root / "new-day", root / "warehouse", root / "empty"
    days = days_in_years(DEFAULT_START, years)
    log(f"{years} years: writing the corpus")
    stats = write_corpus(inbox, start=DEFAULT_START, days=days, pages_per_day=PAGES_PER_DAY, seed=SEED)
    write_corpus(new_day, start=DEFAULT_START + timedelta(days=days), days=1, pages_per_day=PAGES_PER_DAY, seed=SEED)
    next_day = root / "next-day"
    write_corpus(
        next_day, start=DEFAULT_START + timedelta(days=days + 1), days=1, pages_per_day=PAGES_PER_DAY, seed=SEED
    )
    scale.pages, scale.megabytes = stats.pages, stats.bytes / 1e6
    paths = corpus_files(inbox)
    f = scale.figures

    log(f"{years} years: the floor")
    f["read_s"] = best_of(1, lambda: read_decode_files(paths))
    cpu = time.process_time()
    f["parse_1_s"] = best_of(1, lambda: parse_files(paths))
    f["parse_1_cpu_s"] = time.process_time() - cpu  # what the parse cost, whatever else ran
    f["parse_all_s"] = parse_on_all_cores(paths, workers)
    f["new_day_parse_s"] = best_of(3, lambda: parse_files(corpus_files(new_day)))

    prefect_home = root / "prefect-home"
    empty.mkdir(parents=True)
    log(f"{years} years: bulletins run, empty inbox, the first run (new Prefect home)")
    scale.runs["first"] = run_cli(empty, root / "first-warehouse", prefect_home)
    log(f"{years} years: Prefect's temporary server alone")
    f["server_start_s"], f["server_stop_s"] = temporary_server_s(prefect_home)
    log(f"{years} years: bulletins run, empty inbox")
    scale.runs["empty"] = run_cli(empty, root / "empty-warehouse", prefect_home)
    log(f"{years} years: bulletins run, the backfill")
    scale.runs["backfill"] = run_cli(inbox, wh, prefect_home)
    log(f"{years} years: bulletins run, nothing new")
    scale.runs["nothing_new"] = run_cli(inbox, wh, prefect_home)
    for path in corpus_files(new_day):
        target = inbox / path.relative_to(new_day)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    log(f"{years} years: bulletins run, one new day")
    scale.runs["new_day"] = run_cli(inbox, wh, prefect_home)

    log(f"{years} years: bulletins serve up; bulletins run, nothing new, then one more new day")
    with serving(inbox, wh, prefect_home):
        run_cli(inbox, wh, prefect_home)  # not counted: a long-lived server has answered requests before
        scale.runs["nothing_new_served"] = run_cli(inbox, wh, prefect_home)
        for path in corpus_files(next_day):
            target = inbox / path.relative_to(next_day)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        scale.runs["new_day_served"] = run_cli(inbox, wh, prefect_home)

    def served_backfill(warehouse: Path, env: dict[str, str] | None = None) -> CliRun:
        """A backfill into a new warehouse while `bulletins serve` (with `env`) runs on it."""
        with serving(empty, warehouse, prefect_home, env):
            run_cli(empty, warehouse, prefect_home, env)  # not counted, as above
            backfill = run_cli(inbox, warehouse, prefect_home, env)
        shutil.rmtree(warehouse, ignore_errors=True)
        return backfill

    log(f"{years} years: bulletins serve up on a new warehouse; the backfill from the shell")
    scale.runs["backfill_served"] = served_backfill(root / "served-warehouse")
    log(f"{years} years: the backfill as serve's scheduled runs: serve's server, warm Dask workers")
    # The warm cluster serve would start (`warm_local_cluster`), started here so that the
    # run can be sent to it: serve, given the address, starts none of its own.
    with warm_local_cluster(workers) as address:
        scale.runs["backfill_warm"] = served_backfill(root / "warm-warehouse", {DASK_ADDRESS_ENV: address})

    log(f"{years} years: models and queries")
    f["models_s"], f["data_tests_s"] = models_alone_s(wh / ".writer" / "bulletins.duckdb")  # the run's own file
    scale.queries = query_s(wh / "bulletins.duckdb")
    f["cli_query_s"] = cli_query_s(wh / "bulletins.duckdb")
    f["warehouse_mb"] = (wh / "bulletins.duckdb").stat().st_size / 1e6
    f["lake_mb"] = sum(p.stat().st_size for p in (wh / "lake").rglob("*.parquet")) / 1e6
    shutil.rmtree(root, ignore_errors=True)
    return scale


def _scaling(years: int, work: Path, log: Callable[[str], None]) -> str:
    """The scaling section (`flows.devtools.bench_scaling`) on a corpus of `years` years."""
    from flows.devtools import bench_scaling
    from flows.settings import usable_cores

    inbox = work / "inbox"
    log(f"scaling: writing the corpus ({years} years)")
    stats = write_corpus(
        inbox, start=DEFAULT_START, days=days_in_years(DEFAULT_START, years), pages_per_day=PAGES_PER_DAY, seed=SEED
    )
    rows = bench_scaling.measure(inbox, work, bench_scaling.worker_counts(usable_cores()), log)
    shutil.rmtree(work, ignore_errors=True)
    return bench_scaling.section(rows, stats.pages, stats.bytes / 1e6)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Benchmark the flow against its floor; write BENCHMARKS.md.")
    parser.add_argument(
        "--years",
        default=os.environ.get("BENCH_YEARS", "2,10"),
        help="scales, comma-separated (default 2,10; env BENCH_YEARS)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=Settings.resolve().parse_workers,
        help="parse workers (env BULLETINS_PARSE_WORKERS)",
    )
    parser.add_argument(
        "--scaling-years",
        type=int,
        default=int(os.environ.get("BENCH_SCALING_YEARS", "2")),
        help="corpus of the scaling table: 1, 2, … workers, cold pool and warm Dask (default 2; 0 skips it)",
    )
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "BENCHMARKS.md")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    years = [int(y) for y in str(args.years).split(",")]
    started_at, started = datetime.now(UTC), time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bulletins-bench-", dir=args.work) as tmp:
        floor_prefect_s = python_with_prefect_s()
        scales = [bench_scale(y, Path(tmp), args.workers, log) for y in years]
        log("input readers: the sample page as each kind of file")
        readers = input_readers(2.0, Path(tmp))
        scaling = _scaling(args.scaling_years, Path(tmp) / "scaling", log) if args.scaling_years else ""
    text = benchmarks_markdown(
        scales, args.workers, floor_prefect_s, started_at, time.perf_counter() - started, readers
    )
    text += ("\n" + scaling) if scaling else ""
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
