"""Bringing a raw Delta table written by an older version to the current schema, once.

When a column is added to a raw table (`flows.warehouse.schema`), a lake written before
has data files without it. A table is upgraded in one overwrite commit: each of its data
files is read (page checksums verified) and written again in the current schema, the
missing columns computed as `schema.upgrade` computes them (a derived column by its
function, a nullable one NULL), with page checksums and its batch-id statistics as
before; the commit replaces the table's files and its schema together. Its batches'
transaction ids are kept (a batch is still never appended twice), and so is every row:
the same count per file, checked before the commit.

A table with a file that cannot be read is left as it is and named: the caller has the
audit take that file out (and restore its batches), then upgrades again. A kill before
the commit leaves unreferenced files that no reader sees (the audit sets them aside).
Only the run lock's holder upgrades (a run, `rebuild`), before anything reads the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from deltalake.transaction import AddAction, RemoveAction

from flows.warehouse import lake, lake_store
from flows.warehouse.lake_read import data_files
from flows.warehouse.schema import LAKE_TABLES, upgrade

P = TypeVar("P")  # what the audit reports (`lake_audit.LakeProblem`)


@dataclass
class Upgrade:
    """What `upgrade_lake` did: tables brought to the current schema, files it could not read."""

    tables: dict[str, list[str]] = field(default_factory=dict)  # table -> the columns it gained
    unreadable: list[str] = field(default_factory=list)  # `table/file`: its table was left as it was

    def lines(self) -> list[str]:
        """One line per table for the run's log."""
        lines = [
            f"lake table {t}: columns {', '.join(c)} added (its data files written again)"
            for t, c in self.tables.items()
        ]
        lines += [
            f"lake file {f} could not be read: its table keeps its older columns for now" for f in self.unreadable
        ]
        return lines


def missing_columns(lake_dir: lake.Lake, table: str) -> list[str]:
    """The current schema's columns the Delta table lacks (none when it does not exist)."""
    dt = lake.open_table(lake_dir, table)
    if dt is None:
        return []
    has = {f.name for f in dt.schema().fields}
    return [name for name in LAKE_TABLES[table].names if name not in has]


def outdated_tables(lake_dir: lake.Lake) -> list[str]:
    """The raw tables an upgrade would write again."""
    return [t for t in LAKE_TABLES if missing_columns(lake_dir, t)]


def upgrade_lake(lake_dir: lake.Lake, audit_in_full: Callable[[], list[P]]) -> tuple[Upgrade, list[P]]:
    """Upgrade every raw table that lacks a column of its current schema.

    When a file cannot be read, `audit_in_full` (the lake audit reading every file, with the
    warehouse to restore from) takes it out, and the tables are upgraded again; what the
    audit found is returned with what was done.
    """
    done = _upgrade_tables(lake_dir)
    if not done.unreadable:
        return done, []
    problems = audit_in_full()
    again = _upgrade_tables(lake_dir)
    return Upgrade({**done.tables, **again.tables}, again.unreadable), problems


def _upgrade_tables(lake_dir: lake.Lake) -> Upgrade:
    done = Upgrade()
    if not lake.exists(lake_dir):
        return done
    for table in LAKE_TABLES:
        missing = missing_columns(lake_dir, table)
        if not missing:
            continue
        unreadable = _rewrite_table(lake_dir, table)
        if unreadable is None:
            done.tables[table] = missing
        else:
            done.unreadable.append(unreadable)
    return done


def _rewrite_table(lake_dir: lake.Lake, table: str) -> str | None:
    """Write every data file of the table again in the current schema and commit them in place
    of the old ones, with the schema. Returns `table/file` of a file that could not be read (then
    nothing is committed and the new files are deleted), or None."""
    actions: list[AddAction | RemoveAction] = []
    for old in data_files(lake_dir, table):
        name = f"part-upgraded-{old.path.rsplit('/', 1)[-1]}"
        rows, unreadable = lake.copy_row_groups(
            lake_dir, table, [old], name, transform=lambda part: upgrade(table, part)
        )
        if unreadable is not None:
            for action in actions:
                lake_store.delete(lake_dir, f"{table}/{action.path}")
            return old.relative
        batches = [b for b in (old.min_batch, old.max_batch) if b is not None]
        actions.append(lake.added_file(lake_dir, table, name, batches, rows, data_change=False))
    # Overwrite: every file the table's current version references is removed, these added,
    # and the schema replaced, in one commit (its transaction ids stay in the log).
    lake.ensure_table(lake_dir, table).create_write_transaction(actions, "overwrite", LAKE_TABLES[table])
    return None
