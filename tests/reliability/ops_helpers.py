"""Helpers for the operational cases of the reliability suite: warehouses, damage, processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
from cluster_processes import wait_for as wait_for  # one poller for the suites: re-exported to the reliability tests
from pipeline_helpers import (
    LOADING_HISTORY,
    bulletins,  # noqa: F401  (the reliability tests' name for it)
)
from testdata import SAMPLE_PAGE

from flows.devtools.synth import bundled_files

# DuckDB's file layout: three 4 KiB headers, then 256 KiB blocks (8-byte checksum first).
DUCKDB_HEADER_BYTES = 3 * 4096
DUCKDB_BLOCK_BYTES = 262144


def make_inbox(folder: Path) -> Path:
    """An inbox with the real sample and the bundled synthetic weeks (tests/pipeline_helpers.py's,
    which this folder cannot import: its `conftest` is another module)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {SAMPLE_PAGE.name: SAMPLE_PAGE.read_text(encoding="utf-8"), **bundled_files()}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def copy_warehouse(source: Path, target: Path) -> Path:
    """A private copy of a warehouse folder (DuckDB file and lake)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.lock"))
    return target


def snapshot(db_path: Path, schemas: tuple[str, ...] = ("core", "marts"), drop: tuple[str, ...] = ()) -> dict:
    """Every row of every table and view in `schemas`, sorted, without the columns in `drop`
    (and without the loading history, `pipeline_helpers.LOADING_HISTORY`)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        names = con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in ? "
            "union all select schema_name, view_name from duckdb_views() where schema_name in ? order by 1, 2",
            [list(schemas), list(schemas)],
        ).fetchall()
        for schema, name in names:
            if f"{schema}.{name}" in LOADING_HISTORY:
                continue
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
                    "order by column_index",
                    [schema, name],
                ).fetchall()
                if c not in drop
            ]
            rows = con.execute(f"select {', '.join(columns)} from {schema}.{name}").fetchall()
            out[f"{schema}.{name}"] = sorted(rows, key=repr)
    finally:
        con.close()
    return out


def table_block_offsets(db_path: Path, table: str) -> list[int]:
    """File offsets of the blocks holding a table's data (`pragma_storage_info`)."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        blocks = con.execute(
            f"select distinct block_id from pragma_storage_info('{table}') where block_id >= 0 order by 1"
        ).fetchall()
    finally:
        con.close()
    return [DUCKDB_HEADER_BYTES + block_id * DUCKDB_BLOCK_BYTES for (block_id,) in blocks]


def flip_bytes(path: Path, offset: int, count: int = 64) -> None:
    """Invert `count` bytes at `offset` (a bit rot the file system does not notice)."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        data = bytearray(fh.read(count))
        fh.seek(offset)
        fh.write(bytes(b ^ 0xFF for b in data))


def truncate(path: Path, fraction: float = 1 / 3) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(int(size * fraction))


def garbage(path: Path) -> None:
    """Same size, random bytes."""
    path.write_bytes(os.urandom(max(path.stat().st_size, 1)))


# Holds a write connection to argv[1] until the file argv[2] exists, like a run loading.
WRITER = """
import pathlib, sys, time
import duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
release = pathlib.Path(sys.argv[2])
deadline = time.monotonic() + 60
while not release.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
con.close()
"""


class Holder:
    """A DuckDB connection held in another process until released."""

    def __init__(self, db_path: Path, release_file: Path, script: str = WRITER):
        self.release_file = release_file
        self.process = subprocess.Popen(
            [sys.executable, "-c", script, str(db_path), str(release_file)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.release_file.touch()
        try:
            self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
