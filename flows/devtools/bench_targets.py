"""The targets `make bench` measures against (BENCHMARKS.md's last table), each met or not."""

from __future__ import annotations

from collections.abc import Iterator

from flows.devtools.bench_measure import (
    TARGET_BACKFILL_S,
    TARGET_BACKFILL_SERVED_S,
    TARGET_MODELS_S,
    TARGET_NEW_DAY_EXTRA_S,
    TARGET_NOTHING_NEW_S,
    TARGET_PARSE_STAGE_SHARE,
    TARGET_PARSER_MB_S,
    TARGET_RSS_MB,
    Scale,
)
from flows.devtools.bench_table import met_text, parse_stage_share, seconds_text


def _row(target: str, figure: str, met: bool) -> str:
    return f"| {target} | {figure} | {met_text(met)} |"


def target_rows(s: Scale, workers: int) -> Iterator[str]:
    """The Targets table's rows: each target, the scale's figure, met or not."""
    parser = s.megabytes / s.figures["parse_1_s"]
    yield _row(
        f"parser ≥ {TARGET_PARSER_MB_S:.0f} MB/s on one core", f"{parser:.1f} MB/s", parser >= TARGET_PARSER_MB_S
    )
    per_cpu = s.megabytes / s.figures["parse_1_cpu_s"]
    yield _row("the same per CPU second (what a quiet core does)", f"{per_cpu:.1f} MB/s", per_cpu >= TARGET_PARSER_MB_S)
    for run, workers_are in (("backfill", "a process pool the run spawns"), ("backfill_warm", "warm Dask workers")):
        share = parse_stage_share(s, run)
        yield _row(
            f"parse stage ≥ {TARGET_PARSE_STAGE_SHARE:.0%} of the parser alone on {workers} cores ({workers_are})",
            f"{share:.0%}",
            share >= TARGET_PARSE_STAGE_SHARE,
        )
    backfill = s.runs["backfill"].wall_s
    yield _row(f"backfill ≤ {TARGET_BACKFILL_S:.0f} s", seconds_text(backfill), backfill <= TARGET_BACKFILL_S)
    for run, how in (
        ("backfill_served", "from the shell while `bulletins serve` runs: its server, a process pool"),
        ("backfill_warm", "as `bulletins serve`'s scheduled runs: its server, warm Dask workers"),
    ):
        served = s.runs[run].wall_s
        yield _row(
            f"backfill ≤ {TARGET_BACKFILL_SERVED_S:.0f} s ({how})",
            seconds_text(served),
            served <= TARGET_BACKFILL_SERVED_S,
        )
    for run, how in (("", "Prefect's temporary server"), ("_served", "`bulletins serve` running")):
        nothing = s.runs[f"nothing_new{run}"].wall_s
        yield _row(
            f"nothing new ≤ {TARGET_NOTHING_NEW_S:.0f} s ({how})",
            seconds_text(nothing),
            nothing <= TARGET_NOTHING_NEW_S,
        )
        extra = s.runs[f"new_day{run}"].wall_s - nothing
        yield _row(
            f"one new day ≤ nothing new + {TARGET_NEW_DAY_EXTRA_S:.0f} s ({how})",
            f"+{seconds_text(extra)}",
            extra <= TARGET_NEW_DAY_EXTRA_S,
        )
    rss = s.runs["backfill"].peak_rss_mb
    yield _row("backfill peak RSS ≤ 1 GB (summed over the tree)", f"{rss:.0f} MB", rss <= TARGET_RSS_MB)
    pss = s.runs["backfill"].peak_pss_mb
    yield _row("backfill peak PSS ≤ 1 GB (shared pages counted once)", f"{pss:.0f} MB", pss <= TARGET_RSS_MB)
    models = s.figures["models_s"]
    yield _row(f"models ≤ {TARGET_MODELS_S:.0f} s", seconds_text(models), models <= TARGET_MODELS_S)
