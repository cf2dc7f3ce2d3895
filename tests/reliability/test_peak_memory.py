"""Peak memory for the largest file a run reads (issue 7, item 13).

One file of realistic page text (the real sample, over and over: articles and a
bulletin each time) exactly at the size limit, `BULLETINS_MAX_FILE_BYTES` (default
2 MiB), taken in by `bulletins run` in a subprocess, as a user runs it. Measured: the
peak resident memory of the whole process tree (the run and Prefect's temporary server,
sampled from /proc) and of its largest process (`getrusage`, exact). The bounds asserted
are the ones the README states ("Size limit"). At full scale a run over the sample alone
is measured too: the difference is what the file itself costs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testdata import SAMPLE_PAGE

from flows.devtools.bench_measure import TreeMemory
from flows.settings import DEFAULT_MAX_FILE_BYTES, PROJECT_DIR
from flows.warehouse.db import connection

SAMPLE = SAMPLE_PAGE.read_text(encoding="utf-8")
MB = 1024 * 1024

# The README's bounds for a run over one file at the default limit (measured: see RELIABILITY.md).
TREE_BOUND_MB = 700
PROCESS_BOUND_MB = 450

# Runs the command in argv[1:], then prints the largest resident size any of its processes reached.
_MAXRSS = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[1:])\n"
    "print('maxrss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(rc)\n"
)


def page_text_of_size(size: int) -> bytes:
    """The sample page repeated, then the start of its articles, to exactly `size` bytes of UTF-8."""
    unit = (SAMPLE + "\n\n").encode("utf-8")
    data = unit * (size // len(unit))
    rest = unit[: size - len(data)].decode("utf-8", errors="ignore").encode("utf-8")  # whole characters
    return data + rest + b"\n" * (size - len(data) - len(rest))


def _run(inbox: Path, wh: Path) -> tuple[float, float]:
    """`bulletins run` in a subprocess: peak MB of its process tree and of its largest process."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _MAXRSS,
            sys.executable,
            "-m",
            "flows",
            "run",
            "--inbox",
            str(inbox),
            "--warehouse",
            str(wh),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"},
    )
    with TreeMemory(process.pid, every_s=0.02, lowest_priority=False) as tree:
        out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out
    largest_kb = int(out.rsplit("maxrss_kb", 1)[1])
    return tree.peak_bytes / MB, largest_kb / 1024


def test_a_file_at_the_size_limit_runs_in_bounded_memory(tmp_path: Path, reliability) -> None:
    limit = DEFAULT_MAX_FILE_BYTES
    assert "BULLETINS_MAX_FILE_BYTES" not in os.environ  # the default limit, as documented
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = page_text_of_size(limit)
    assert len(data) == limit
    (inbox / "2020-12-23_at_the_limit.txt").write_bytes(data)

    tree_mb, largest_mb = _run(inbox, tmp_path / "wh")

    # It was read and parsed in full (not quarantined as too large): every repetition's bulletin.
    with connection(tmp_path / "wh" / "bulletins.duckdb", read_only=True) as con:
        assert con.execute("select status, size_bytes from core.files").fetchall() == [("loaded", limit)]
        printings = con.execute("select count(*) from core.bulletins").fetchall()[0][0]
        assert printings == len(data) // len((SAMPLE + "\n\n").encode("utf-8"))
        assert con.execute("select count(*) from marts.city_week_performance").fetchall() == [(1,)]

    found = f"peak RSS {tree_mb:.0f} MB (process tree), {largest_mb:.0f} MB (largest process)"
    if reliability.full:  # the same run over the sample alone: what the file itself costs
        small = tmp_path / "small"
        small.mkdir()
        (small / SAMPLE_PAGE.name).write_text(SAMPLE, encoding="utf-8")
        base_tree_mb, base_largest_mb = _run(small, tmp_path / "wh-small")
        found += (
            f"; over the 15 KB sample alone {base_tree_mb:.0f} MB and {base_largest_mb:.0f} MB: "
            f"the file adds {largest_mb - base_largest_mb:.0f} MB to the largest process, "
            f"{tree_mb - base_tree_mb:.0f} MB to the tree"
        )
    ok = tree_mb <= TREE_BOUND_MB and largest_mb <= PROCESS_BOUND_MB
    reliability.record(
        "13 memory",
        f"`bulletins run` over one file of page text at the size limit ({limit} bytes, "
        f"{printings} printings of the sample), bounds {TREE_BOUND_MB} MB (tree) and {PROCESS_BOUND_MB} MB (process)",
        found,
        ok,
    )
    assert tree_mb <= TREE_BOUND_MB, found
    assert largest_mb <= PROCESS_BOUND_MB, found
