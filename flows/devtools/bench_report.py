"""BENCHMARKS.md from `make bench`'s figures: the tables, the targets met or not, and the
notes on reading them (the rows: bench_table; the targets: bench_targets; the notes: bench_notes).
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Sequence
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

from flows.devtools.bench_measure import ReaderFigure, Scale
from flows.devtools.bench_notes import NOTES
from flows.devtools.bench_table import ScaleTable, parse_stage_share, seconds_text, server_floor, throughput_text
from flows.devtools.bench_targets import target_rows


def benchmarks_markdown(
    scales: list[Scale],
    workers: int,
    floor_prefect_s: float,
    started: datetime,
    took_s: float,
    readers: Sequence[ReaderFigure] = (),
) -> str:
    """BENCHMARKS.md: the machine, the figures side by side, the targets."""
    table = ScaleTable(scales, workers)
    row, stage = table.row, table.stage
    big = scales[-1]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m flows.devtools.bench`); do not edit by hand.",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC; the whole bench took {took_s / 60:.1f} min",
        f"- machine: {os.cpu_count()} cores ({cpu_model()}), {memory_gb():.0f} GB; {workers} parse workers",
        f"- Python {platform.python_version()}; prefect {version('prefect')}, duckdb {version('duckdb')}, "
        f"pyarrow {version('pyarrow')}",
        "- corpus: `python -m flows.devtools.corpus` (seed 1, 8 pages a day from 2015-01-01): "
        + "; ".join(f"{s.years} years = {s.pages:,} pages, {s.megabytes:.1f} MB" for s in scales),
        f"- load while measuring: {load_average()} (wall figures need a quiet machine; CPU figures much less so)",
        "",
        "## The floor",
        "",
        table.head,
        row("read + decode every file, one core", lambda s: throughput_text(s.megabytes, s.figures["read_s"])),
        row("parser alone, one core", lambda s: throughput_text(s.megabytes, s.figures["parse_1_s"])),
        row(
            "parser alone, one core, per CPU second", lambda s: throughput_text(s.megabytes, s.figures["parse_1_cpu_s"])
        ),
        row(
            f"parser alone, {workers} cores (multiprocessing)",
            lambda s: (
                f"{throughput_text(s.megabytes, s.figures['parse_all_s'])} ({seconds_text(s.figures['parse_all_s'])})"
            ),
        ),
        row("Python starting with Prefect imported", lambda s: seconds_text(floor_prefect_s)),
        row(
            "Prefect's temporary server alone: start (until healthy); stop",
            lambda s: f"{seconds_text(s.figures['server_start_s'])}; {seconds_text(s.figures['server_stop_s'])}",
        ),
        "",
        "## The flow (`bulletins run` from the shell)",
        "",
        "Floors: the backfill against the parser alone on all cores; the runs with little to do",
        "against Prefect's temporary server starting and stopping (any run from the shell waits",
        "for it; the command's own imports overlap its start); one new day also against parsing",
        "its pages on one core.",
        "",
        table.head,
        row("the first run ever: empty inbox, new Prefect home", table.run_cell("first", server_floor)),
        row("empty inbox", table.run_cell("empty", server_floor)),
        row("backfill", table.run_cell("backfill", lambda s: s.figures["parse_all_s"])),
        row("rerun, nothing new", table.run_cell("nothing_new", server_floor)),
        row(
            "one new day (8 pages) on top",
            table.run_cell("new_day", lambda s: server_floor(s) + s.figures["new_day_parse_s"]),
        ),
        row(
            "one new day minus nothing new",
            lambda s: seconds_text(s.runs["new_day"].wall_s - s.runs["nothing_new"].wall_s),
        ),
        row(
            "backfill into a new warehouse, while `bulletins serve` runs (its server takes the run)",
            table.run_cell("backfill_served", lambda s: s.figures["parse_all_s"]),
        ),
        row(
            "backfill into a new warehouse as `bulletins serve`'s scheduled runs (its server; parse tasks on warm Dask workers)",
            table.run_cell("backfill_warm", lambda s: s.figures["parse_all_s"]),
        ),
        row(
            "rerun, nothing new, while `bulletins serve` runs (its server takes the run)",
            table.run_cell("nothing_new_served", lambda s: floor_prefect_s),
        ),
        row(
            "one more new day, while `bulletins serve` runs",
            table.run_cell("new_day_served", lambda s: floor_prefect_s + s.figures["new_day_parse_s"]),
        ),
        row(
            "one new day minus nothing new, while `bulletins serve` runs",
            lambda s: seconds_text(s.runs["new_day_served"].wall_s - s.runs["nothing_new_served"].wall_s),
        ),
        row("peak RSS of the backfill (process tree)", lambda s: f"{s.runs['backfill'].peak_rss_mb:.0f} MB"),
        row("peak RSS, one new day (process tree)", lambda s: f"{s.runs['new_day'].peak_rss_mb:.0f} MB"),
        row("peak PSS of the backfill (process tree)", lambda s: f"{s.runs['backfill'].peak_pss_mb:.0f} MB"),
        row(
            "backfill's parse stage",
            lambda s: (
                f"{throughput_text(s.megabytes, s.runs['backfill'].stages['parse'])}, "
                f"{parse_stage_share(s):.0%} of the parser alone on {workers} cores"
            ),
        ),
        row(
            "the same on warm Dask workers",
            lambda s: (
                f"{throughput_text(s.megabytes, s.runs['backfill_warm'].stages['parse'])}, "
                f"{parse_stage_share(s, 'backfill_warm'):.0%} of the parser alone on {workers} cores"
            ),
        ),
        row(
            "models alone (rebuild; data tests)",
            lambda s: f"{seconds_text(s.figures['models_s'])}; {seconds_text(s.figures['data_tests_s'])}",
        ),
        row(
            "warehouse file (the writer's, and its published snapshot as large again); lake",
            lambda s: (
                f"{s.figures['warehouse_mb']:.0f} MB (+{s.figures['warehouse_mb']:.0f} MB); "
                f"{s.figures['lake_mb']:.0f} MB"
            ),
        ),
        "",
        "## Where the backfill's time goes",
        "",
        "From the timings `bulletins run --timings` prints. Worker-seconds are summed over",
        "the parse tasks; idle worker time is the parse stage's wall time times the workers",
        "minus what the tasks did, split by when (from when each task started and ended).",
        "",
        table.head,
        row("process start (interpreter, until `bulletins` runs)", table.process("backfill")),
        row("Prefect's temporary server: start, overlapping imports", stage("prefect_start_and_import")),
        row("discover", stage("discover")),
        row("· verify the warehouse (read every block)", stage("verify")),
        row("· audit the lake", stage("audit")),
        row("· plan (list, stat, hash the inbox)", stage("plan")),
        row("parse stage (wall)", stage("parse")),
        row("· in tasks: read + hash (worker-s)", stage("parse_read")),
        row("· in tasks: parse + build rows (worker-s)", stage("parse_parse")),
        row("· in tasks: lake writes (worker-s)", stage("parse_write")),
        row("· idle workers, in all", table.worker_idle),
        row(
            "· · from the pool opening to each worker's first task: spawn, imports (worker-s)",
            stage("parse_idle_start"),
        ),
        row("· · between one task and the next on a worker (worker-s)", stage("parse_idle_between")),
        row("· · from each worker's last task to the pool closing (worker-s)", stage("parse_idle_finish")),
        row(
            "· the least the stage could take: parser alone + (read, hash, write, worker start) / workers",
            table.best_stage,
        ),
        row("the same parse stage on warm Dask workers (wall)", stage("parse", "backfill_warm")),
        row("· in tasks: read + hash (worker-s)", stage("parse_read", "backfill_warm")),
        row("· in tasks: parse + build rows (worker-s)", stage("parse_parse", "backfill_warm")),
        row("· in tasks: lake writes (worker-s)", stage("parse_write", "backfill_warm")),
        row(
            "· idle from the stage's start to each worker's first task: submit, Prefect's task engine (worker-s)",
            stage("parse_idle_start", "backfill_warm"),
        ),
        row("· idle after each worker's last task (worker-s)", stage("parse_idle_finish", "backfill_warm")),
        row("load into DuckDB", stage("load")),
        row("models", stage("models")),
        row("data tests", stage("data_tests")),
        row("commit + checkpoint", stage("commit")),
        row("publish the snapshot readers open (a copy of the file)", stage("snapshot")),
        row("export the marts to Parquet", stage("export_marts")),
        row("write the weekly reports", stage("reports")),
        row("publish the run's artifacts", stage("publish")),
        row("Prefect flow and task overhead", table.overhead("backfill")),
        row("Prefect's temporary server: stop", stage("prefect_stop")),
        row("total (wall)", lambda s: seconds_text(s.runs["backfill"].wall_s)),
        "",
        "## Where a run with nothing new spends its time",
        "",
        *table.small_run("nothing_new"),
        "",
        "## Where one new day (8 pages) on top of the archive spends its time",
        "",
        *table.small_run("new_day"),
        "",
        "## The same two runs while `bulletins serve` runs",
        "",
        "With no PREFECT_API_URL, `bulletins run` uses the server `bulletins serve` keeps on the",
        "warehouse (`<warehouse>/prefect/server.pid`): no temporary server to start or stop.",
        "Their floor is Python starting with Prefect imported. One run before them is not counted:",
        "a server that has just started answers its first requests slowly, a long-lived one does not.",
        "",
        "Nothing new:",
        "",
        *table.small_run("nothing_new_served"),
        "",
        "One more new day:",
        "",
        *table.small_run("new_day_served"),
        "",
        f"## Analyst queries on the {big.years}-year warehouse",
        "",
        "| query | rows | time |",
        "|---|---|---|",
        *[f"| {label} | {rows} | {seconds * 1000:.1f} ms |" for label, (seconds, rows) in big.queries.items()],
        f"| the latest week's list via `bulletins query` from the shell | | {seconds_text(big.figures['cli_query_s'])} |",
        "",
        "## Input readers (the sample page as each kind of file, one core)",
        "",
        "Read and parse, what a run does per file (`flows.inputs.parse_input`); MB/s of the file's own bytes.",
        "",
        "| input | bytes | pages/s | MB/s |",
        "|---|---|---|---|",
        *[
            f"| {r.label} | {r.size_bytes:,} | {r.pages_per_s:.1f} | {r.pages_per_s * r.size_bytes / 1e6:.2f} |"
            for r in readers
        ],
        "",
        f"## Targets ({big.years} years)",
        "",
        "| target | figure | |",
        "|---|---|---|",
        *target_rows(big, workers),
        "",
        NOTES,
    ]
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    m = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return m[1].strip() if m else "unknown CPU"


def memory_gb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f}"
