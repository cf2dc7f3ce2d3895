"""What `bulletins forget` and `accept` name: a file by its inbox path (as given, relative to
the inbox or the working folder, or an S3 key) or its sha256, checked against the warehouse
and the decisions on record before anything is written (flows/warehouse/corrections.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import duckdb

from flows.settings import S3_SCHEME, InboxLocation, S3Location
from flows.warehouse import storage
from flows.warehouse.corrections import ACCEPTABLE_CHECKS, DecidedFile, Decisions, describe, unique_shas


class CorrectionRefused(ValueError):
    """A decision that cannot be taken as asked: one line saying why and what to do."""


def _recorded_path(con: duckdb.DuckDBPyConnection, path: str) -> str | None:
    """The sha256 of the content recorded at an inbox path now (its latest record), or None."""
    rows = con.execute(
        """
        select file_sha256 from ingest.files where path = ?
        qualify row_number() over (order by ingest_seq desc, batch_id desc) = 1
        """,
        [path],
    ).fetchall()
    return rows[0][0] if rows else None


def _inbox_relative(inbox: Path, arg: str, cwd: Path) -> list[str]:
    """The inbox-relative paths `arg` may name: as given inside the inbox, then from `cwd`."""
    out = []
    for base in (inbox, cwd) if not os.path.isabs(arg) else (Path("/"),):
        full = os.path.normpath(os.path.join(base, arg))
        rel = os.path.relpath(full, inbox)
        if rel != "." and not rel.startswith(".." + os.sep) and rel != "..":
            out.append(rel)
    return list(dict.fromkeys(out))


def _s3_relative(inbox: S3Location, arg: str) -> list[str]:
    """The inbox-relative key `arg` names in an S3 inbox: as given, or as a full s3:// URL inside it.

    >>> _s3_relative(S3Location("b", "in"), "s3://b/in/2021/a.txt"), _s3_relative(S3Location("b", "in"), "2021/a.txt")
    (['2021/a.txt'], ['2021/a.txt'])
    """
    if arg.lower().startswith(S3_SCHEME):
        prefix = str(inbox) + "/"
        return [arg[len(prefix) :]] if arg.startswith(prefix) and len(arg) > len(prefix) else []
    rel = "/".join(p for p in arg.split("/") if p not in ("", "."))
    return [rel] if rel and ".." not in rel.split("/") else []


def resolve(con: duckdb.DuckDBPyConnection, inbox: InboxLocation, arg: str, cwd: Path | None = None) -> DecidedFile:
    """The file `arg` names: a path in the inbox (relative to it, to the working folder, or
    absolute inside it) or a sha256 (a prefix of at least 8 hex digits) of a recorded file.

    A recorded path gives the content recorded there; a file in the inbox not recorded yet,
    its bytes' sha256 (a decision can come before the run that would load it).
    """
    from flows.warehouse.inbox_walk import display_path, sha256_file

    cwd = cwd or Path.cwd()
    s3 = isinstance(inbox, S3Location)
    candidates = _s3_relative(inbox, arg) if isinstance(inbox, S3Location) else _inbox_relative(inbox, arg, cwd)
    for rel in candidates:
        display = display_path(rel)[0]
        if (sha := _recorded_path(con, display)) is not None:
            return DecidedFile(sha, display)
    for rel in candidates:  # a file (an object) not recorded yet
        if isinstance(inbox, S3Location):
            try:
                return DecidedFile(storage.sha256(inbox / rel), display_path(rel)[0])
            except FileNotFoundError:
                continue
            except (OSError, storage.S3Error) as exc:
                raise CorrectionRefused(f"{arg}: cannot be read ({exc})") from None
        full = inbox / rel
        if full.is_file() and not full.is_symlink():
            try:
                return DecidedFile(sha256_file(full), display_path(rel)[0])
            except OSError as exc:
                raise CorrectionRefused(f"{arg}: cannot be read ({exc.strerror or exc})") from None
    prefix = arg.lower()
    if re.fullmatch(r"[0-9a-f]{8,64}", prefix):
        rows = con.execute(
            """
            select file_sha256, coalesce(min(path) filter (where status <> 'duplicate'), min(path))
            from ingest.files where starts_with(file_sha256, ?) group by file_sha256 order by 1
            """,
            [prefix],
        ).fetchall()
        if len(rows) == 1:
            return DecidedFile(rows[0][0], rows[0][1])
        if len(rows) > 1:
            raise CorrectionRefused(f"sha256 {arg} is the start of {len(rows)} recorded files: give more digits")
    if (os.path.isabs(arg) or s3) and not candidates:
        raise CorrectionRefused(f"{arg} is not inside the inbox {inbox}")
    raise CorrectionRefused(
        f"{arg}: no such file in the inbox {inbox}, and no recorded file's sha256 starts with it "
        "(`bulletins status` lists the recorded files)"
    )


def files_to_forget(
    con: duckdb.DuckDBPyConnection, inbox: InboxLocation, args: Sequence[str], decisions: Decisions, *, undo: bool
) -> list[DecidedFile]:
    """The files to forget (or to take back, `undo`); CorrectionRefused naming the first that cannot be."""
    targets = unique_shas(resolve(con, inbox, arg) for arg in args)
    for t in targets:
        earlier = decisions.forgotten(t.file_sha256)
        if not undo and earlier is not None:
            raise CorrectionRefused(f"{t.path or t.file_sha256} is forgotten already ({describe(earlier)})")
        if undo and earlier is None:
            raise CorrectionRefused(f"{t.path or t.file_sha256} is not forgotten: nothing to undo")
    return targets


def file_to_accept(
    con: duckdb.DuckDBPyConnection, inbox: InboxLocation, arg: str, check: str, decisions: Decisions, *, undo: bool
) -> DecidedFile:
    """The file whose failed `check` is to be accepted (or no longer, `undo`); CorrectionRefused when it cannot be."""
    t = resolve(con, inbox, arg)
    name = t.path or t.file_sha256
    earlier = decisions.accepted(t.file_sha256, check)
    if undo:
        if earlier is None:
            raise CorrectionRefused(f"check {check} of {name} is not accepted: nothing to undo")
        return DecidedFile(t.file_sha256, t.path, check)
    if earlier is not None:
        raise CorrectionRefused(f"check {check} of {name} is accepted already ({describe(earlier)})")
    if (forgotten := decisions.forgotten(t.file_sha256)) is not None:
        raise CorrectionRefused(f"{name} is forgotten ({describe(forgotten)}): `bulletins forget --undo` it first")
    rows = con.execute(
        "select seq, failed_checks from raw.bulletins where file_sha256 = ? "
        "qualify row_number() over (partition by bulletin_id order by batch_id desc) = 1 order by seq",
        [t.file_sha256],
    ).fetchall()
    if not rows:
        raise CorrectionRefused(f"{name} holds no bulletin a format read: there is no check to accept")
    failed = list(dict.fromkeys(c for _, checks in rows for c in checks))
    failed += [c for c in _warehouse_checks(con, t.file_sha256) if c not in failed]
    if check not in failed:
        listed = ", ".join(failed) if failed else "none"
        raise CorrectionRefused(f"{name}: no bulletin of it failed check {check} (its failed checks: {listed})")
    if check not in ACCEPTABLE_CHECKS:
        raise CorrectionRefused(
            f"check {check} cannot be accepted: the marts rely on it (their data tests would fail with this "
            f"bulletin); checks that can be: {', '.join(ACCEPTABLE_CHECKS)}. Correct the page, or forget the file"
        )
    return DecidedFile(t.file_sha256, t.path, check)


def _warehouse_checks(con: duckdb.DuckDBPyConnection, sha: str) -> list[str]:
    try:
        rows = con.execute(
            "select distinct check_name from core.bulletin_checks where file_sha256 = ? order by 1", [sha]
        ).fetchall()
    except duckdb.CatalogException:
        return []
    return [r[0] for r in rows]
