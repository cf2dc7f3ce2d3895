"""What one run did: returned by the flow, printed by the CLI, published as an artifact."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, TypedDict

from flows.warehouse.statuses import DUPLICATE, LOADED, PARTIAL, QUARANTINED, SKIPPED

if TYPE_CHECKING:  # only a type here: importing the lake check pulls in pyarrow
    from flows.warehouse.lake_audit import LakeProblem

# How many of a run's problem entries `bulletins run` prints (and the run logs): a backfill
# can have thousands; `bulletins status` lists them all.
MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class ProblemFile:
    """An inbox entry that is partial, quarantined or skipped, with its reasons (as recorded, English).

    People read it in Chinese (`flows.reporting.reason_labels.problem_line`); `str()` is the log's line.
    """

    status: str
    path: str
    reasons: list[str]

    def __str__(self) -> str:
        return f"{self.status} {self.path}: {'; '.join(self.reasons)}"


@dataclass
class RunSummary:
    """Counts of one `bulletin-etl` run."""

    files_seen: int = 0  # files in the inbox this run
    files_unchanged: int = 0  # already recorded (same path, size, mtime): not read
    files_new: int = 0  # new content taken in this run (loaded + partial + quarantined)
    files_loaded: int = 0
    files_partial: int = 0
    files_quarantined: int = 0
    files_duplicate: int = 0  # same bytes as a file already taken
    files_skipped: int = 0  # entries not read: links, hidden entries, FIFOs and devices
    batches_recovered: int = 0  # lake batches of an earlier interrupted run loaded now
    weeks_loaded: list[date] = field(default_factory=list)  # period_start of bulletins loaded that pass every check
    problems: list[ProblemFile] = field(default_factory=list)  # this run's partial, quarantined, skipped entries
    models_built: bool = False
    # Why the run did nothing (another run held the lock); its Prefect state is `Skipped`.
    not_run: str | None = None
    batch_ids: list[str] = field(default_factory=list)  # lake batches this run loaded (new and recovered)
    reports: list[str] = field(default_factory=list)  # weekly reports written (HTML paths), oldest week first
    latest_reports: list[str] = field(default_factory=list)  # each city's latest week's HTML report (now or before)
    warnings: list[str] = field(default_factory=list)  # what a person should look at (stale feed, report not written)
    # lake batches restored or set aside, each with what was done (LakeProblem.action)
    lake_problems: list[LakeProblem] = field(default_factory=list)
    # Where the run's time went, in seconds by stage (see `flows.orchestration.flow`).
    seconds: dict[str, float] = field(default_factory=dict)
    parse_tasks: int = 0  # lake batches parsed (one task each)

    def timings_line(self) -> str:
        """The stage timings as one line: `timings: discover=0.12s parse=3.40s ...`."""
        stages = " ".join(f"{stage}={s:.2f}s" for stage, s in self.seconds.items())
        return f"timings: {stages} parse_tasks={self.parse_tasks}"

    @property
    def changed(self) -> bool:
        return bool(self.files_new or self.files_duplicate or self.files_skipped or self.batches_recovered)

    def problem_lines(self, limit: int = MAX_PROBLEMS_SHOWN) -> list[str]:
        """This run's problem entries for the log: the first `limit`, then one line counting the rest.

        >>> a, b = ProblemFile("quarantined", "a.txt", ["empty"]), ProblemFile("quarantined", "b.txt", ["empty"])
        >>> RunSummary(problems=[a, b]).problem_lines(1)
        ['quarantined a.txt: empty', '……另有 1 个未列出：`bulletins status` 列出全部']
        """
        return capped([str(p) for p in self.problems], limit)

    def line(self) -> str:
        """One line for the CLI and the logs: counts and the range of weeks, never a list.

        >>> RunSummary(files_new=2, files_loaded=2, weeks_loaded=[date(2021, 1, 18), date(2020, 12, 7)]).line()
        'files: 2 new (2 loaded, 0 partial, 0 quarantined), 0 duplicate, 0 unchanged; weeks loaded: 2 (2020-12-07 to 2021-01-18)'
        """
        if self.not_run:
            return f"run skipped: {self.not_run}"
        weeks = sorted(set(self.weeks_loaded))
        if not weeks:
            span = "none"
        elif len(weeks) == 1:
            span = f"1 ({weeks[0]})"
        else:
            span = f"{len(weeks)} ({weeks[0]} to {weeks[-1]})"
        lake = f"; {self.lake_line()}" if self.lake_problems else ""
        skipped = f", {self.files_skipped} skipped" if self.files_skipped else ""
        return (
            f"files: {self.files_new} new ({self.files_loaded} loaded, {self.files_partial} partial, "
            f"{self.files_quarantined} quarantined), {self.files_duplicate} duplicate, "
            f"{self.files_unchanged} unchanged{skipped}; weeks loaded: {span}{lake}"
        )

    def lake_counts(self) -> tuple[int, int]:
        """Lake batches restored from the warehouse, and set aside: by what was done to each
        (its `action`), never by the words of its reason."""
        aside = sum(p.set_aside for p in self.lake_problems)
        return len(self.lake_problems) - aside, aside

    def lake_line(self) -> str:
        """What the lake check did ('' when the lake was sound): see the run's log for each batch.

        Counted by what was done to each batch (its `action`), never by the words of its reason.

        >>> from flows.warehouse.lake_audit import RESTORED, SET_ASIDE, LakeProblem
        >>> RunSummary(lake_problems=[LakeProblem("b1", "files part missing", RESTORED),
        ...     LakeProblem("b2", "bad magic", SET_ASIDE), LakeProblem("b3", "bad magic", SET_ASIDE)]).lake_line()
        'lake: 1 batch(es) restored from the warehouse, 2 set aside in lake/_quarantine (quarantine.log says why)'
        """
        if not self.lake_problems:
            return ""
        restored, aside = self.lake_counts()
        return (
            f"lake: {restored} batch(es) restored from the warehouse, {aside} set aside in lake/_quarantine "
            "(quarantine.log says why)"
        )


def capped(problems: Sequence[str], limit: int = MAX_PROBLEMS_SHOWN) -> list[str]:
    """The first `limit` problem lines, then `… and N more: ...` when there are more."""
    shown = list(problems[:limit])
    if len(problems) > limit:
        shown.append(f"……另有 {len(problems) - limit} 个未列出：`bulletins status` 列出全部")
    return shown


class FileCounts(TypedDict):
    """`RunSummary`'s counts of files by what they became (its `files_*` fields)."""

    files_new: int
    files_loaded: int
    files_partial: int
    files_quarantined: int
    files_duplicate: int
    files_skipped: int


def file_counts(statuses: Mapping[str, int]) -> FileCounts:
    """`RunSummary`'s file counts from the entries of a run's batches by status.

    >>> file_counts({"loaded": 3, "partial": 1, "duplicate": 2})
    {'files_new': 4, 'files_loaded': 3, 'files_partial': 1, 'files_quarantined': 0, 'files_duplicate': 2, 'files_skipped': 0}
    """
    loaded, partial, quarantined = (statuses.get(s, 0) for s in (LOADED, PARTIAL, QUARANTINED))
    return FileCounts(
        files_new=loaded + partial + quarantined,
        files_loaded=loaded,
        files_partial=partial,
        files_quarantined=quarantined,
        files_duplicate=statuses.get(DUPLICATE, 0),
        files_skipped=statuses.get(SKIPPED, 0),
    )
