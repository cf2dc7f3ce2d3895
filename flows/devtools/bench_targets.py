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
from flows.devtools.bench_table import met_text, seconds_text


def target_rows(s: Scale, workers: int, share: float) -> Iterator[str]:
    """The Targets table's rows: each target, the scale's figure, met or not."""
    parser = s.megabytes / s.figures["parse_1_s"]
    yield f"| parser ≥ {TARGET_PARSER_MB_S:.0f} MB/s on one core | {parser:.1f} MB/s | {met_text(parser >= TARGET_PARSER_MB_S)} |"
    per_cpu = s.megabytes / s.figures["parse_1_cpu_s"]
    yield (
        f"| the same per CPU second (what a quiet core does) | {per_cpu:.1f} MB/s | "
        f"{met_text(per_cpu >= TARGET_PARSER_MB_S)} |"
    )
    yield (
        f"| parse stage ≥ {TARGET_PARSE_STAGE_SHARE:.0%} of the parser alone on {workers} cores | {share:.0%} | "
        f"{met_text(share >= TARGET_PARSE_STAGE_SHARE)} |"
    )
    backfill = s.runs["backfill"].wall_s
    yield f"| backfill ≤ {TARGET_BACKFILL_S:.0f} s | {seconds_text(backfill)} | {met_text(backfill <= TARGET_BACKFILL_S)} |"
    served = s.runs["backfill_served"].wall_s
    yield (
        f"| backfill ≤ {TARGET_BACKFILL_SERVED_S:.0f} s (`bulletins serve` running: no server to start) | "
        f"{seconds_text(served)} | {met_text(served <= TARGET_BACKFILL_SERVED_S)} |"
    )
    for run, how in (("", "Prefect's temporary server"), ("_served", "`bulletins serve` running")):
        nothing = s.runs[f"nothing_new{run}"].wall_s
        yield (
            f"| nothing new ≤ {TARGET_NOTHING_NEW_S:.0f} s ({how}) | {seconds_text(nothing)} | "
            f"{met_text(nothing <= TARGET_NOTHING_NEW_S)} |"
        )
        extra = s.runs[f"new_day{run}"].wall_s - nothing
        yield (
            f"| one new day ≤ nothing new + {TARGET_NEW_DAY_EXTRA_S:.0f} s ({how}) | +{seconds_text(extra)} | "
            f"{met_text(extra <= TARGET_NEW_DAY_EXTRA_S)} |"
        )
    rss = s.runs["backfill"].peak_rss_mb
    yield f"| backfill peak RSS ≤ 1 GB (summed over the tree) | {rss:.0f} MB | {met_text(rss <= TARGET_RSS_MB)} |"
    pss = s.runs["backfill"].peak_pss_mb
    yield f"| backfill peak PSS ≤ 1 GB (shared pages counted once) | {pss:.0f} MB | {met_text(pss <= TARGET_RSS_MB)} |"
    models = s.figures["models_s"]
    yield f"| models ≤ {TARGET_MODELS_S:.0f} s | {seconds_text(models)} | {met_text(models <= TARGET_MODELS_S)} |"
