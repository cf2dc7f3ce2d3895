"""`make bench`: parse throughput and pipeline run times on synthetic archives.

Prints figures; asserts nothing (speed is measured here, never in unit tests).
Runs the real flow on Prefect's temporary local API, in a temp folder.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def _write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def bench_pipeline(weeks: int = 520) -> list[tuple[str, float]]:
    """Time a first run over `weeks` pages, a run with one new page, and a run with none."""
    from flows.devtools.synth import page_files, random_weeks
    from flows.orchestration.flow import bulletin_etl

    all_weeks = random_weeks(weeks + 1, seed=1)
    figures = []
    with tempfile.TemporaryDirectory(prefix="bulletins-bench-") as tmp:
        inbox, wh = Path(tmp) / "inbox", Path(tmp) / "wh"
        _write(inbox, page_files(all_weeks[:weeks]))
        for label, files in (
            (f"first run, {weeks} pages", {}),
            ("incremental run, 1 new page", page_files(all_weeks[weeks:])),
            ("run with nothing new", {}),
        ):
            _write(inbox, files)
            started = time.perf_counter()
            summary = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
            figures.append((f"{label} ({summary.files_new} parsed)", time.perf_counter() - started))
    return figures


def main() -> None:
    from flows.devtools.bench_parse import measure
    from flows.orchestration.prefect_local import local_api

    print("parse throughput (one core):", measure())
    with local_api():
        figures = bench_pipeline()
    for label, seconds in figures:
        print(f"{label}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
