"""Taking files in: parse new files and turn them into lake rows with a status.

Pure functions (file I/O, no Prefect, no DuckDB). The flow in `flows.orchestration.flow` wraps
them in tasks.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from deltalake.exceptions import DeltaError

from flows.inputs import parse_input
from flows.parsing.names import normalize_name
from flows.parsing.page_tables import cell_sources
from flows.parsing.reasons import PARSER_ERROR
from flows.parsing.records import Bulletin, ParsedPage, Rejection
from flows.settings import InboxLocation
from flows.warehouse import archives, batch_record, gc_pacing, lake, storage
from flows.warehouse.inbox import InboxFile
from flows.warehouse.reasons import SAME_BYTES_AS, UNKNOWN_FORMAT, bulletin_reason
from flows.warehouse.schema import LAKE_TABLES
from flows.warehouse.statuses import DUPLICATE, LOADED, PARTIAL, QUARANTINED


def bulletin_id(file_sha256: str, seq: int) -> str:
    return f"{file_sha256[:16]}-{seq}"


def file_status(result: ParsedPage | Rejection) -> tuple[str, list[str]]:
    """Status and reasons of a parsed file."""
    if isinstance(result, Rejection):
        return QUARANTINED, [f"{result.reason}: {result.detail}" if result.detail else result.reason]
    reasons = [bulletin_reason(b.seq, b.period_start, detail) for b in result.bulletins for detail in _check_lines(b)]
    status = PARTIAL if reasons else LOADED
    # A bulletin no format reads: its text loaded as articles, the file says what to add.
    unknown = [f"{UNKNOWN_FORMAT}: {u.describe()}" for u in result.unknown_bulletins]
    return status, reasons + unknown + list(result.warnings)


def _check_lines(b: Bulletin) -> tuple[str, ...]:
    """A bulletin's failed checks, each with its numbers and line where the format recorded them."""
    if len(b.check_details) == len(b.failed_checks):
        return b.check_details
    return b.failed_checks


def file_row(
    item: InboxFile,
    batch_id: str,
    seen_at: datetime,
    status: str,
    reasons: list[str],
    result: ParsedPage | Rejection | None = None,
) -> dict[str, Any]:
    page = result if isinstance(result, ParsedPage) else None
    return {
        "file_sha256": item.file_sha256,
        "path": item.path,
        "size_bytes": item.size_bytes,
        "modified_ns": item.modified_ns,
        "issue_date": page.issue_date if page else None,
        "issue_date_source": page.issue_date_source if page else None,
        "encoding": page.encoding if page else getattr(result, "encoding", None),
        "status": status,
        "reasons": reasons,
        "over_size_limit": item.over_size_limit,
        "first_seen_at": item.seen_at or seen_at,
        "ingest_seq": item.ingest_seq,
        "batch_id": batch_id,
    }


def page_rows(sha: str, batch_id: str, page: ParsedPage) -> dict[str, list[dict[str, Any]]]:
    """Lake rows (articles, bulletins, bulletin_units, bulletin_scores) of one parsed page."""
    articles = [
        {
            "file_sha256": sha,
            "seq": a.seq,
            "section": a.section,
            "kind": a.kind,
            "kicker": a.kicker,
            "title": a.title,
            "subtitle": a.subtitle,
            "reporters": list(a.reporters),
            "correspondents": list(a.correspondents),
            "photographers": list(a.photographers),
            "authors": list(a.authors),
            "event_date": a.event_date,
            "body": a.body,
            "editor_code": a.editor_code,
            "original_text": a.original_text,
            "line_start": a.line_start,
            "line_end": a.line_end,
            "batch_id": batch_id,
        }
        for a in page.articles
    ]
    bulletins: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    for b in page.bulletins:
        bid = bulletin_id(sha, b.seq)
        bulletins.append(
            {
                "bulletin_id": bid,
                "file_sha256": sha,
                "seq": b.seq,
                "article_seq": b.article_seq,
                "format": b.format,
                "city": b.city,
                "period_label": b.period_label,
                "issue_date": page.issue_date,
                "period_start": b.period_start,
                "period_end": b.period_end,
                "received": b.received,
                "due": b.due,
                "closed": b.closed,
                "in_progress": b.in_progress,
                "overdue": b.overdue,
                "disputed": b.disputed,
                "closure_rate_published": b.closure_rate_published,
                "linked_units": b.linked_units,
                "overdue_units": b.overdue_units,
                "as_of": b.as_of,
                "failed_checks": list(b.failed_checks),
                "check_details": list(_check_lines(b)),
                "line_start": b.line_start,
                "line_end": b.line_end,
                "period_kind": b.period_kind,
                "batch_id": batch_id,
            }
        )
        units.extend(
            {
                "bulletin_id": bid,
                "file_sha256": sha,
                "unit_group": u.unit_group,
                "unit_name_raw": u.unit_name_raw,
                "unit_name_key": normalize_name(u.unit_name_raw),
                "dispatched": u.dispatched,
                "unresolved": u.unresolved,
                "row_no": u.row_no,
                "line_no": u.line_no,
                "closed": u.closed,
                "closure_rate_published": u.closure_rate_published,
                "batch_id": batch_id,
            }
            for u in b.units
        )
        scores.extend(
            {
                "bulletin_id": bid,
                "file_sha256": sha,
                "unit_group": s.unit_group,
                "unit_name_raw": s.unit_name_raw,
                "unit_name_key": normalize_name(s.unit_name_raw),
                "score": s.score,
                "grade": s.grade,
                "rank": s.rank,
                "score_list": s.score_list,
                "no_data": s.no_data,
                "row_no": s.row_no,
                "line_no": s.line_no,
                "batch_id": batch_id,
            }
            for s in b.scores
        )
    sources = cell_sources(page.tables, page.source_tables)
    cells = [
        {
            "file_sha256": sha,
            "table_no": table_no,
            "layout": table.layout,
            "row_no": row_no,
            "column_no": column_no,
            "header": table.column(column_no - 1),
            "text": cell.text,
            "number": cell.number,
            "line_no": cell.line_no,
            "source": sources.get((table_no, row_no, column_no)),
            "batch_id": batch_id,
        }
        for table_no, table in enumerate(page.tables, start=1)
        for row_no, row in enumerate(table.rows, start=1)
        for column_no, cell in enumerate(row, start=1)
    ]
    return {
        "articles": articles,
        "bulletins": bulletins,
        "bulletin_units": units,
        "bulletin_scores": scores,
        "page_tables": cells,
    }


# An issue date is believed up to a day after the file was first seen (time zones).
ISSUE_DATE_SLACK = timedelta(days=1)


def safe_parse(file_name: str, data: bytes, seen_at: datetime | None = None) -> ParsedPage | Rejection:
    """Parse, turning a parser bug into a quarantine reason instead of a failed run."""
    not_after = (seen_at + ISSUE_DATE_SLACK).date() if seen_at is not None else None
    try:
        # By kind (web page, Word, Excel, PDF, text: flows.inputs), then parsed as a text page.
        return parse_input(file_name, data, not_after=not_after)
    except Exception as exc:  # last-resort boundary: one bad file must not stop the run
        return Rejection(reason=PARSER_ERROR, detail=f"{type(exc).__name__}: {exc}")


# Every ROW_GROUP_FILES files, the articles' rows (their text: what a batch holds in
# memory) go to Parquet as one row group, and so do another table's once it holds
# SMALL_TABLE_GROUP_ROWS rows; the rest wait for the batch's end. A row group per column
# costs its own headers, statistics and checksums: the small tables written every 256 files
# cost a batch of 7,300 pages 0.11 CPU-s more (measured), for rows of a few bytes each.
ROW_GROUP_FILES = 256
SMALL_TABLE_GROUP_ROWS = 8192


@dataclass(frozen=True)
class BatchResult:
    """What parsing one batch produced (small: no row data)."""

    batch_id: str
    statuses: dict[str, int]
    weeks: list[date]
    # Seconds spent reading and hashing, parsing (with building rows), writing Parquet.
    seconds: dict[str, float] = field(default_factory=dict)
    # Which process ran it, and when (epoch seconds: comparable across processes).
    worker: int = 0
    started_at: float = 0.0
    ended_at: float = 0.0
    # Paths not recorded: gone or changed since planning (the next run takes them). Their
    # duplicates are not recorded either (`InboxPlan.recorded_after`).
    missing: list[str] = field(default_factory=list)


def pool_idle_seconds(results: Sequence[BatchResult], opened_at: float, closed_at: float) -> dict[str, float]:
    """Where a process pool's workers were not running batches, in worker-seconds.

    `start`: from the pool opening to each worker's first batch (spawning the process
    and its imports); `between`: between one batch and the next on a worker; `finish`:
    from each worker's last batch to the pool closing (results, shutdown, and waiting
    for the slower worker).

    >>> r = [BatchResult("1", {}, [], worker=7, started_at=3, ended_at=5),
    ...      BatchResult("2", {}, [], worker=7, started_at=5.5, ended_at=8),
    ...      BatchResult("3", {}, [], worker=9, started_at=2, ended_at=9)]
    >>> pool_idle_seconds(r, opened_at=0, closed_at=10)
    {'start': 5.0, 'between': 0.5, 'finish': 3.0}
    """
    idle = {"start": 0.0, "between": 0.0, "finish": 0.0}
    by_worker: dict[int, list[BatchResult]] = {}
    for result in results:
        by_worker.setdefault(result.worker, []).append(result)
    for batches in by_worker.values():
        batches.sort(key=lambda r: r.started_at)
        idle["start"] += batches[0].started_at - opened_at
        idle["between"] += sum(b.started_at - a.ended_at for a, b in pairwise(batches))
        idle["finish"] += closed_at - batches[-1].ended_at
    return idle


class LakeWriteFailed(RuntimeError):
    """A Delta error while a batch was written, as its text: deltalake's own exceptions
    cannot be pickled (their module is `_internal`), so a process-pool worker raising one
    would reach the run as a PicklingError instead of the reason."""


def process_batch(
    inbox: InboxLocation, lake_dir: lake.Lake, batch_id: str, items: Iterable[InboxFile], seen_at: datetime
) -> BatchResult:
    """Parse a batch of files and append its rows to the lake's tables (`_process_batch`);
    a Delta error is raised as `LakeWriteFailed`, with its first line (delta-rs adds a
    backtrace of unnamed frames)."""
    try:
        return _process_batch(inbox, lake_dir, batch_id, items, seen_at)
    except DeltaError as exc:
        raise LakeWriteFailed(f"lake batch {batch_id}: {type(exc).__name__}: {lake.first_line(exc)}") from exc


def _process_batch(
    inbox: InboxLocation, lake_dir: lake.Lake, batch_id: str, items: Iterable[InboxFile], seen_at: datetime
) -> BatchResult:
    """Parse a batch of files and append its rows to the lake's tables; `files` goes last.

    Rows go to Parquet a row group at a time (ROW_GROUP_FILES files' articles; the small
    tables' rows in groups of up to SMALL_TABLE_GROUP_ROWS): memory stays bounded whatever
    the batch's size. Each table commits the batch once (a retry of the
    same batch id adds nothing to a table that has it: `lake.BatchWriter`). The cycle
    collector runs less often meanwhile (`gc_pacing`).
    """
    started_at = time.time()
    statuses: dict[str, int] = {}
    weeks: list[date] = []
    seconds = {"read": 0.0, "parse": 0.0, "write": 0.0}
    missing: list[str] = []
    # Members of zip archives are read from their archive, in memory (never extracted).
    with (
        gc_pacing.fewer_collections(),
        lake.BatchWriter(lake_dir, batch_id) as writer,
        archives.MemberReader(inbox, storage.open_entry) as members,
    ):
        rows = _empty_rows()
        files_in_group = 0
        for item in items:
            started = time.perf_counter()
            try:
                if item.archive is not None and item.member is not None:
                    data = members.read(item.archive, item.member, item.size_bytes)
                else:
                    data = storage.read_entry(inbox / item.source, item.size_bytes)
            # Removed or replaced (by a link, a FIFO; a member gone from its archive) since
            # planning: the next run records it.
            except (OSError, archives.MemberGone):
                missing.append(item.path)
                continue
            if hashlib.sha256(data).hexdigest() != item.file_sha256:
                missing.append(item.path)  # changed since planning: the next run takes the new bytes
                continue
            read = time.perf_counter()
            result = safe_parse(item.parse_name, data, item.seen_at or seen_at)
            status, reasons = file_status(result)
            reasons += item.reasons
            statuses[status] = statuses.get(status, 0) + 1
            rows["files"].append(file_row(item, batch_id, seen_at, status, reasons, result))
            if isinstance(result, ParsedPage):
                for table, table_rows in page_rows(item.file_sha256, batch_id, result).items():
                    rows[table].extend(table_rows)
                weeks.extend(
                    b.period_start
                    for b in result.bulletins
                    if b.period_start and b.period_kind == "week" and not b.failed_checks
                )
            parsed = time.perf_counter()
            seconds["read"] += read - started
            seconds["parse"] += parsed - read
            files_in_group += 1
            if files_in_group == ROW_GROUP_FILES:
                group = {t: r for t, r in rows.items() if t == "articles" or len(r) >= SMALL_TABLE_GROUP_ROWS}
                writer.write(group)
                rows.update(_empty_rows(group))
                files_in_group = 0
                seconds["write"] += time.perf_counter() - parsed
        started = time.perf_counter()
        writer.write(rows)
        writer.commit()
        _record_written(lake_dir, batch_id, sum(statuses.values()))
        seconds["write"] += time.perf_counter() - started
    return BatchResult(batch_id, statuses, weeks, seconds, os.getpid(), started_at, time.time(), missing)


def _empty_rows(tables: Iterable[str] = LAKE_TABLES) -> dict[str, list[dict[str, Any]]]:
    return {table: [] for table in tables}


def record_unparsed(lake_dir: lake.Lake, batch_id: str, items: Sequence[InboxFile], seen_at: datetime) -> None:
    """Write a files-only batch recording duplicates and entries not read (nothing else is loaded for them)."""
    rows = [
        file_row(i, batch_id, seen_at, i.status, list(i.reasons))
        if i.status is not None
        else file_row(i, batch_id, seen_at, DUPLICATE, [f"{SAME_BYTES_AS}{i.duplicate_of}", *i.reasons])
        for i in items
    ]
    lake.write_batch(lake_dir, batch_id, {"files": rows})
    _record_written(lake_dir, batch_id, len(rows))


def _record_written(lake_dir: lake.Lake, batch_id: str, files: int) -> None:
    """The batch record's `written` row (the batch's `files` rows are in)."""
    run = batch_record.run_of(batch_id)
    batch_record.append(lake_dir, [batch_record.StateChange(run, batch_id, batch_record.WRITTEN, files=files)])
