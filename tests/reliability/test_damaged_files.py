"""Issue 7, items 3 and 9: damaged database and lake files, each followed by `run` and `rebuild`.

The promise: every damage ends in a report naming the file and what was done; nothing is
lost silently (what the lake cannot give back is parsed again from the inbox); `rebuild`
always completes with what is sound; leftovers are cleaned up by the next run. After the
damage, a `run` and a `rebuild`, the core and marts tables equal a clean run's, row for row.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from ops_helpers import (
    copy_warehouse,
    flip_bytes,
    garbage,
    make_inbox,
    snapshot,
    table_block_offsets,
    truncate,
)

from flows.orchestration.flow import bulletin_etl
from flows.settings import Settings
from flows.warehouse import lake
from flows.warehouse.build import rebuild_warehouse
from flows.warehouse.db import WarehouseDamaged
from flows.warehouse.lake_audit import SET_ASIDE_DIR

pytestmark = pytest.mark.usefixtures("prefect_harness")

FIRST_RUN = [
    "000_3e19ef32d54e8472.txt",
    "2020-12-16_synthetic_week_2020-12-07.txt",
    "2020-12-30_synthetic_week_2020-12-21.txt",
]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A warehouse loaded in two runs (two lake batches), and its core and marts rows."""
    root = tmp_path_factory.mktemp("damaged")
    full_inbox = make_inbox(root / "all")
    inbox = root / "inbox"
    inbox.mkdir()
    for name in FIRST_RUN:
        shutil.copy2(full_inbox / name, inbox / name)
    bulletin_etl(inbox=str(inbox), warehouse=str(root / "wh"))
    for path in full_inbox.iterdir():
        if not (inbox / path.name).exists():
            shutil.copy2(path, inbox / path.name)
    bulletin_etl(inbox=str(inbox), warehouse=str(root / "wh"))
    assert len(lake.complete_batches(root / "wh" / "lake")) == 2
    return inbox, root / "wh", snapshot(root / "wh" / "bulletins.duckdb")


def batch(wh: Path, n: int) -> str:
    return lake.complete_batches(wh / "lake")[n]


def part(wh: Path, table: str, n: int = 0) -> Path:
    """The data file of batch n's rows of a table (its Delta log references it)."""
    lake_dir = wh / "lake"
    (found,) = [f for f in lake.data_files(lake_dir, table) if f.min_batch == batch(wh, n) == f.max_batch]
    return lake.table_dir(lake_dir, table) / found.path


def forge_copy(wh: Path) -> None:
    """Every data file of the first batch copied under a new name beside it: no log names the
    copies, so no reader sees them (their rows would load twice)."""
    for table in lake.LAKE_TABLES:
        if lake.read_batch(wh / "lake", table, batch(wh, 0)).num_rows:  # a table without rows has no file
            copy = part(wh, table).with_name("part-29990101T000000000000Z-0001-forged.parquet")
            shutil.copy2(part(wh, table), copy)


def wrong_schema(wh: Path) -> None:
    """The files data file replaced by another table's (valid Parquet, wrong columns)."""
    shutil.copy2(part(wh, "bulletins"), part(wh, "files"))


def interrupted_batch(wh: Path) -> None:
    """Data tables committed for a batch whose files rows never were (a run killed mid-batch)."""
    other = "29990101T000000000000Z-0002"
    for table in ("articles", "bulletins", "bulletin_units"):
        rows = lake.read_batch(wh / "lake", table, batch(wh, 0))
        rows = rows.set_column(rows.schema.get_field_index("batch_id"), "batch_id", pa.array([other] * rows.num_rows))
        lake.append_arrow(wh / "lake", table, other, rows)


def files_dir_replaced(wh: Path) -> None:
    """What `COPY ... TO 'lake/files' (PARTITION_BY ..., OVERWRITE)` did before the sandbox:
    the files table, its log included, replaced by a folder of another table's rows."""
    sample = part(wh, "articles")
    shutil.rmtree(wh / "lake" / "files")
    (wh / "lake" / "files" / "batch_id=x").mkdir(parents=True)
    shutil.copy2(sample, wh / "lake" / "files" / "batch_id=x" / "data_0.parquet")


def writer(wh: Path) -> Path:
    """The file runs write (README, "Snapshot reads")."""
    return wh / ".writer" / "bulletins.duckdb"


def published(wh: Path) -> Path:
    """The snapshot readers open."""
    return wh / "bulletins.duckdb"


def no_warehouse_and(damage: Callable[[Path], None]) -> Callable[[Path], None]:
    def both(wh: Path) -> None:
        damage(wh)
        writer(wh).unlink()
        published(wh).unlink()

    return both


def rebuild_leftovers(wh: Path) -> None:
    """What a rebuild killed half-way leaves, and a publish killed before its rename."""
    writer(wh).with_name("bulletins.duckdb.rebuild").write_bytes(b"half a database")
    writer(wh).with_name("bulletins.duckdb.rebuild.wal").write_bytes(b"half a log")
    (wh / ".bulletins.duckdb.publish-4242").write_bytes(b"half a snapshot")


def _leftovers(wh: Path) -> list[Path]:
    return [*writer(wh).parent.glob("bulletins.duckdb.rebuild*"), *wh.glob(".bulletins.duckdb.publish-*")]


@dataclass(frozen=True)
class Damage:
    name: str
    do: Callable[[Path], None]
    run_fails: bool = False  # the run must stop, saying `bulletins rebuild` (the database is damaged)


# The first FAST ones run inside `make test`; `make reliability` runs them all.
FAST = 6
DAMAGES = [
    Damage("lake: files data file deleted (the log names a missing file)", lambda wh: part(wh, "files").unlink()),
    Damage("lake: the files folder replaced (COPY ... OVERWRITE)", files_dir_replaced),
    Damage("lake: forged batch (copies of a batch's files under new names)", forge_copy),
    Damage("lake: articles part cut and no warehouse", no_warehouse_and(lambda wh: truncate(part(wh, "articles")))),
    Damage(
        "database: bit rot in raw.articles of the writer file (a block a run with nothing new never reads)",
        lambda wh: flip_bytes(writer(wh), table_block_offsets(writer(wh), "raw.articles")[0] + 100),
        run_fails=True,
    ),
    Damage(
        "snapshot: bytes of raw.articles overwritten in the published file (the run publishes it anew)",
        lambda wh: flip_bytes(published(wh), table_block_offsets(published(wh), "raw.articles")[0] + 100),
    ),
    Damage("lake: files part cut to a third", lambda wh: truncate(part(wh, "files"))),
    Damage("lake: articles part replaced with random bytes", lambda wh: garbage(part(wh, "articles", 1))),
    Damage("lake: bit rot in a bulletin_units part", lambda wh: flip_bytes(part(wh, "bulletin_units"), 200, 32)),
    Damage("lake: files part with another table's schema", wrong_schema),
    Damage("lake: interrupted batch (no files rows)", interrupted_batch),
    Damage("lake: files part deleted and no warehouse", no_warehouse_and(lambda wh: part(wh, "files", 1).unlink())),
    Damage("lake: a killed rebuild's leftovers", rebuild_leftovers),
    Damage("database: writer file deleted (the snapshot taken back)", lambda wh: writer(wh).unlink()),
    Damage("snapshot: deleted (published again)", lambda wh: published(wh).unlink()),
    Damage("database: writer file of random bytes", lambda wh: garbage(writer(wh)), run_fails=True),
    Damage("snapshot: random bytes (published again)", lambda wh: garbage(published(wh))),
    Damage("database: writer file cut to a third", lambda wh: truncate(writer(wh)), run_fails=True),
    Damage(
        "database: write-ahead log of random bytes",
        lambda wh: writer(wh).with_name("bulletins.duckdb.wal").write_bytes(b"\x07" * 5000),
    ),
]


def _lake_files(wh: Path) -> set[str]:
    return {str(p.relative_to(wh / "lake")) for p in (wh / "lake").rglob("*") if p.is_file()}


def _quarantined(wh: Path) -> list[str]:
    folder = wh / "lake" / SET_ASIDE_DIR
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.parquet")) if folder.exists() else []


def test_damage_then_run_then_rebuild(clean: tuple[Path, Path, dict], tmp_path: Path, reliability) -> None:
    inbox, source, expected = clean
    expected_but_seq = snapshot(source / "bulletins.duckdb", drop=("ingest_seq",))

    def compare(wh: Path) -> str | None:
        """How the warehouse compares with a clean run's; None when it differs."""
        if snapshot(wh / "bulletins.duckdb") == expected:
            return "core/marts = clean run"
        if snapshot(wh / "bulletins.duckdb", drop=("ingest_seq",)) == expected_but_seq:
            # Files parsed again are taken in anew: a later ingest_seq, in the same order.
            return "core/marts = clean run but for the ingest_seq of the files parsed again"
        return None

    cases = DAMAGES[: reliability.scale(FAST, len(DAMAGES))]
    failures = []
    for n, damage in enumerate(cases):
        wh = copy_warehouse(source, tmp_path / f"wh{n}")
        damage.do(wh)
        lake_after_damage = _lake_files(wh)
        found: list[str] = []
        ok = True

        try:
            summary = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
            ok &= not damage.run_fails
            found.append(f"run: {summary.lake_line() or 'lake sound'}; {summary.files_new} file(s) parsed")
            if _leftovers(wh):
                ok = False
                found.append("rebuild or publish leftovers remain")
            elif "leftovers" in damage.name:
                found.append("leftovers removed")
            same = compare(wh)
            ok &= same is not None
            found.append(same or "after run: core/marts differ from a clean run")
        except WarehouseDamaged as exc:
            ok &= damage.run_fails and "`bulletins rebuild`" in str(exc)
            found.append("run: stopped, database damaged, says `bulletins rebuild`")
        except Exception as exc:  # anything else is a broken promise
            ok = False
            found.append(f"run: {type(exc).__name__}: {str(exc)[:120]}")

        try:
            result = rebuild_warehouse(Settings.resolve(inbox, wh))
            found.append(
                f"rebuild: {result.batches} batch(es)" + (f"; {result.problems_line()}" if result.problems else "")
            )
            if result.left_out:  # what the lake could not give back is parsed again from the inbox
                summary = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
                found.append(f"run: {summary.files_new} file(s) parsed again")
            same = compare(wh)
            ok &= same is not None
            found.append(same or "after rebuild: core/marts differ from a clean run")
        except Exception as exc:
            ok = False
            found.append(f"rebuild: {type(exc).__name__}: {str(exc)[:120]}")
        if _leftovers(wh):
            ok = False
            found.append("rebuild or publish leftovers remain")
        # Nothing was deleted: every file the lake held after the damage is in it or quarantined.
        missing = lake_after_damage - _lake_files(wh) - set(_quarantined(wh))
        if missing:
            ok = False
            found.append(f"lake files gone: {sorted(missing)}")
        if _quarantined(wh):
            found.append(f"{len(_quarantined(wh))} part(s) in lake/{SET_ASIDE_DIR}")
        reliability.record("9 damaged database and lake files, then run and rebuild", damage.name, "; ".join(found), ok)
        if not ok:
            failures.append(f"{damage.name}: {'; '.join(found)}")
    assert not failures, "\n".join(failures)
