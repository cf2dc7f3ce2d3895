"""Corrections on record: files forgotten, failed checks accepted, and their undoing.

A person's decision about data is kept in the lake, the source of truth `rebuild` reads,
so neither a rebuild nor a later run (the file still in the inbox) can undo it:

- `forget`: a file's content (its sha256) leaves the models: articles, bulletins, units,
  marts. Its entry stays recorded (`core.files` status `forgotten`, who, when, why).
- `accept`: a bulletin is published although it failed a named check; the report says so
  ("经人工确认：<note>").
- `unforget` / `unaccept` (`--undo`): reverse the latest decision on the same key.

Each command writes one decision, `<lake>/_corrections/<decision_id>.json`, atomically
(temporary name, fsync, rename): files are only ever added, never rewritten. Every build
loads them all into `ingest.corrections` (`load`), and the latest decision on a key wins
(`staging.stg_corrections`). Their fingerprint goes into the models' state, so a
decision rebuilds the marts on the next build even with no new file.

Only checks whose failure leaves the marts' own rules intact can be accepted
(`ACCEPTABLE_CHECKS`): accepting one the data tests rely on would make the build hold
the file out instead of publishing it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePath, PurePosixPath

import duckdb

from flows.warehouse import lake_store
from flows.warehouse.db import sql_quote
from flows.warehouse.lake_store import Lake

log = logging.getLogger(__name__)

CORRECTIONS_DIR = "_corrections"
TABLE = "ingest.corrections"

FORGET, UNFORGET, ACCEPT, UNACCEPT = "forget", "unforget", "accept", "unaccept"
ACTIONS = (FORGET, UNFORGET, ACCEPT, UNACCEPT)

# Checks a person may accept on record: a failure that says the bulletin's own figures
# disagree, while every figure the marts use was read and the marts' rules (sql/tests,
# the unique keys) still hold. The others (components_sum_to_due: city_week_cases_add_up;
# unit_count_matches: unit_week_list_matches_overdue_units; unresolved_le_dispatched;
# units_unique*: the unit mart's key; a period, a figure or a cell not read) would make a
# data test fail with the bulletin, and the build hold its file out.
ACCEPTABLE_CHECKS: dict[str, str] = {
    # zhumadian_weekly
    "units_sum_to_overdue": "the units' unresolved do not add up to the overdue total",
    "closure_rate_matches": "the printed closure rate is not closed / due",
    "period_before_issue": "the week ends after the issue date or starts long before it",
    # sanmenxia_weekly
    "channels_sum_to_total": "the channels do not add up to the total",
    "rows_add_up": "a row's 完成数 + 未完成数 is not its 派遣数",
    "row_rates_match": "a row's printed rate is not 完成数 / 派遣数",
    "totals_match_rows": "合计 is not the rows' sum",
    "totals_match_summary": "合计 is not what the channel's text prints",
}

_SHA = re.compile(r"^[0-9a-f]{64}$")

COLUMNS: dict[str, tuple[str, str]] = {
    "correction_id": ("varchar not null", "<decision_id>/<n>: the n-th file of one decision"),
    "decision_id": ("varchar not null", "the decision: lake/_corrections/<decision_id>.json (a UTC time, then random)"),
    "action": ("varchar not null", "forget, unforget (forget --undo), accept or unaccept (accept --undo)"),
    "file_sha256": ("varchar not null", "the content decided on (sha256 of the file's bytes)"),
    "path": ("varchar", "its inbox path when decided (a content can have several)"),
    "check_name": ("varchar", "accept, unaccept: the failed check accepted; NULL for forget"),
    "note": ("varchar not null", "why, as the person wrote it (--note)"),
    "decided_by": ("varchar not null", "who: the OS user, or --by"),
    "decided_at": ("timestamptz not null", "when the decision was recorded"),
}


@dataclass(frozen=True)
class Correction:
    """One file's part of a decision: a row of `ingest.corrections`."""

    correction_id: str
    decision_id: str
    action: str
    file_sha256: str
    path: str | None
    check_name: str | None
    note: str
    decided_by: str
    decided_at: datetime

    @property
    def key(self) -> tuple[str, str, str | None]:
        """What a later decision overrides: (forget, sha, None) or (accept, sha, check)."""
        kind = FORGET if self.action in (FORGET, UNFORGET) else ACCEPT
        return kind, self.file_sha256, self.check_name if kind == ACCEPT else None


@dataclass(frozen=True)
class DecidedFile:
    """A file a decision is about: its content and the path it was named by."""

    file_sha256: str
    path: str | None
    check_name: str | None = None


def operator() -> str:
    """Who is deciding: the OS user (a container may have no passwd entry: the uid then)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def write_decision(
    lake_dir: Lake,
    action: str,
    targets: Sequence[DecidedFile],
    note: str,
    decided_by: str,
    now: datetime | None = None,
) -> PurePath:
    """Record one decision on `targets` in the lake; returns its file (for S3, bucket/key).

    Never rewrites one: its name is the time and random bits, and it is written once."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not targets:
        raise ValueError("a decision needs at least one file")
    now = now or datetime.now(UTC)
    decision_id = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(4)}"
    record = {
        "decision_id": decision_id,
        "action": action,
        "note": note,
        "decided_by": decided_by,
        "decided_at": now.isoformat(),
        "files": [asdict(t) for t in targets],
    }
    relative = lake_store.write_text(
        lake_dir, f"{CORRECTIONS_DIR}/{decision_id}.json", json.dumps(record, ensure_ascii=False, indent=1)
    )
    where = lake_store.path(lake_dir, relative)
    return Path(where) if not lake_store.is_remote(lake_dir) else PurePosixPath(where)


def _parse_decision(path: PurePosixPath, text: str | None) -> list[Correction]:
    """The corrections one decision file holds; ValueError when it is not one we wrote."""
    try:
        if text is None:
            raise OSError("gone while read")
        record = json.loads(text)
        action, decided_by, note = record["action"], record["decided_by"], record["note"]
        decided_at = datetime.fromisoformat(record["decided_at"])
        files = record["files"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    if record.get("decision_id") != path.stem:
        raise ValueError(f"its decision_id {record.get('decision_id')!r} is not its file name")
    if action not in ACTIONS or not isinstance(files, list) or not files:
        raise ValueError(f"action {action!r} with {files!r}: not a decision")
    if decided_at.tzinfo is None or not isinstance(note, str) or not isinstance(decided_by, str):
        raise ValueError("decided_at without a time zone, or note / decided_by not text")
    out = []
    for n, entry in enumerate(files, start=1):
        sha, check = entry.get("file_sha256") if isinstance(entry, dict) else None, None
        if not isinstance(sha, str) or not _SHA.match(sha):
            raise ValueError(f"file {n}: {sha!r} is not a sha256")
        if action in (ACCEPT, UNACCEPT):
            check = entry.get("check_name")
            if not isinstance(check, str) or not check:
                raise ValueError(f"file {n}: {action} without a check_name")
        path_text = entry.get("path")
        out.append(
            Correction(
                correction_id=f"{path.stem}/{n}",
                decision_id=path.stem,
                action=action,
                file_sha256=sha,
                path=path_text if isinstance(path_text, str) else None,
                check_name=check,
                note=note,
                decided_by=decided_by,
                decided_at=decided_at,
            )
        )
    return out


@dataclass(frozen=True)
class Decisions:
    """Every correction in the lake, oldest decision first, and the files that could not be read."""

    corrections: list[Correction]
    unreadable: list[str]  # "<file>: <why>"

    def fingerprint(self) -> str:
        """Hash of every correction (what the models are built from, beside sql/ and the seeds)."""
        digest = hashlib.sha256()
        for c in self.corrections:
            digest.update(repr((*asdict(c).values(),)).encode())
        return digest.hexdigest()

    def current(self) -> dict[tuple[str, str, str | None], Correction]:
        """The latest correction on each key (a forget, an unforget, an accept, an unaccept)."""
        latest: dict[tuple[str, str, str | None], Correction] = {}
        for c in self.corrections:
            latest[c.key] = c
        return latest

    def forgotten(self, sha: str) -> Correction | None:
        c = self.current().get((FORGET, sha, None))
        return c if c is not None and c.action == FORGET else None

    def accepted(self, sha: str, check: str) -> Correction | None:
        c = self.current().get((ACCEPT, sha, check))
        return c if c is not None and c.action == ACCEPT else None


def read_decisions(lake_dir: Lake) -> Decisions:
    """Every decision in the lake, in the order they were taken (decided_at, then id).

    A file that is not a decision we wrote (hand-edited, damaged) is not applied and is
    named in `unreadable`: it never stops a build. A temporary file of a write that was
    interrupted (`.<name>.tmp`) is no decision yet.
    """
    corrections: list[Correction] = []
    unreadable: list[str] = []
    for name in lake_store.list_files(lake_dir, CORRECTIONS_DIR):
        if "/" in name or name.startswith(".") or not name.endswith(".json"):
            continue
        relative = f"{CORRECTIONS_DIR}/{name}"
        try:
            text = lake_store.read_text(lake_dir, relative)
        except (OSError, ValueError) as exc:  # unreadable bytes: named, never applied
            unreadable.append(f"{relative}: {type(exc).__name__}: {exc}")
            continue
        try:
            corrections += _parse_decision(PurePosixPath(relative), text)
        except ValueError as exc:
            unreadable.append(f"{relative}: {exc}")
    corrections.sort(key=lambda c: (c.decided_at, c.decision_id, c.correction_id))
    return Decisions(corrections, unreadable)


def ensure_corrections_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create `ingest.corrections` empty when missing (the models read it)."""
    con.execute("create schema if not exists ingest")
    exists = con.execute(
        "select 1 from duckdb_tables() where schema_name = 'ingest' and table_name = 'corrections'"
    ).fetchall()
    if not exists:
        _create(con, "create table")


def _create(con: duckdb.DuckDBPyConnection, verb: str) -> None:
    columns = ", ".join(f"{name} {kind}" for name, (kind, _) in COLUMNS.items())
    con.execute(f"{verb} {TABLE} ({columns})")
    con.execute(
        f"comment on table {TABLE} is "
        + sql_quote("decisions on record from lake/_corrections: files forgotten, failed checks accepted, and undone")
    )
    for name, (_, doc) in COLUMNS.items():
        con.execute(f"comment on column {TABLE}.{name} is {sql_quote(doc)}")


def load(con: duckdb.DuckDBPyConnection, decisions: Decisions) -> None:
    """Replace `ingest.corrections` with `decisions` (in the caller's transaction)."""
    _create(con, "create or replace table")
    if decisions.corrections:
        con.executemany(
            f"insert into {TABLE} values ({', '.join('?' for _ in COLUMNS)})",
            [list(asdict(c).values()) for c in decisions.corrections],
        ).fetchall()
    for problem in decisions.unreadable:
        log.warning("correction not applied: %s", problem)


def state_fingerprint(models_fingerprint: str, decisions: Decisions) -> str:
    """What the models are built from: sql/ and the seeds, and the corrections when there are any.

    >>> state_fingerprint("abc", Decisions([], []))
    'abc'
    """
    if not decisions.corrections:
        return models_fingerprint  # a warehouse without corrections keeps its state
    return hashlib.sha256(f"{models_fingerprint}\n{decisions.fingerprint()}".encode()).hexdigest()


def applied(con: duckdb.DuckDBPyConnection, decision_id: str) -> bool:
    """Whether the warehouse open on `con` was built with the decision."""
    try:
        rows = con.execute(f"select 1 from {TABLE} where decision_id = ? limit 1", [decision_id]).fetchall()
    except duckdb.CatalogException:
        return False
    return bool(rows)


def describe(c: Correction) -> str:
    """One line on a decision: who, when (UTC, to the minute), why."""
    when = c.decided_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = f": {c.note}" if c.note else ""
    return f"by {c.decided_by} at {when}{note}"


def unique_shas(targets: Iterable[DecidedFile]) -> list[DecidedFile]:
    """Targets without repeats (the same file named twice, by path and by sha)."""
    seen: set[tuple[str, str | None]] = set()
    out = []
    for t in targets:
        if (t.file_sha256, t.check_name) not in seen:
            seen.add((t.file_sha256, t.check_name))
            out.append(t)
    return out
