"""Hostile pages and odd entries by the thousand (issue 7, items 1, 2, 5-8, 13, 14).

Mutations of the real sample (`hostile.py`: misprinted figures, spaces, commas and signs
in numbers, periods of 8-31 days, one unit under two spellings, cut tables, damaged
bytes, absurd issue dates, exact copies, reprints of one week) and odd entries (links,
FIFOs, hidden and non-UTF-8 names, empty, binary and over-size files) are dropped into
the inbox over a few runs, the last a real flow run, then rerun and rebuilt. Then:

- every run finished, and every entry has the status it should, by name;
- every published week's identities hold, recomputed from the marts alone;
- every published week's figures are the truth the generator carried for the printing
  that should win (the latest issue among the printings a correct warehouse may
  publish; a tie goes to the file taken in later), and no week is published from a page
  that must not be.
"""

from __future__ import annotations

import re
import traceback
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import hostile
import pytest
from pipeline_helpers import load_without_prefect, snapshot

from flows.settings import DEFAULT_MAX_FILE_BYTES
from flows.warehouse.db import connection

SEED = 7
NAME_DATE = re.compile(r"(?:^|/)(\d{4})-(\d{2})-(\d{2})_")


def _drops(pages: list[hostile.Entry], odd: list[hostile.Entry], count: int) -> list[list[hostile.Entry]]:
    """The pages cut into `count` drops in order; the odd entries in the second; and in the
    first, a half-copied version of a few of the last drop's pages (rewritten at the same path)."""
    drops = [pages[len(pages) * k // count : len(pages) * (k + 1) // count] for k in range(count)]
    drops[1] = [*drops[1], *odd]
    later = [e for e in drops[-1] if e.truth is not None and e.expect == "loaded"][:5]
    drops[0] = [*drops[0], *(hostile.Entry(e.name, "file", e.data[: len(e.data) // 2], expect="any") for e in later)]
    return drops


def _current(drops: list[list[hostile.Entry]]) -> dict[str, hostile.Entry]:
    """Each path's last entry (a rewritten path: its final content)."""
    return {e.path: e for drop in drops for e in drop}


def _rows(db: Path, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    with connection(db, read_only=True) as con:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _status_problems(db: Path, entries: dict[str, hostile.Entry]) -> tuple[list[str], list[str]]:
    """Entries without a recorded status, and entries whose status is not the one they should have."""
    recorded = {r["path"]: r for r in _rows(db, "select path, status, reasons from core.files")}
    expected = {path: e.expect for path, e in entries.items() if e.expect}
    unrecorded = sorted(set(expected) - set(recorded)) + [
        f"{p} (no entry)" for p in sorted(set(recorded) - set(expected))
    ]
    wrong = [
        f"{path}: {recorded[path]['status']}, not {status} ({'; '.join(recorded[path]['reasons'])[:200]})"
        for path, status in sorted(expected.items())
        if path in recorded and status != "any" and recorded[path]["status"] != status
    ]
    return unrecorded, wrong


def _issue_date_problems(db: Path) -> list[str]:
    """An issue date is the file name's when it is believable, and never after the file was first seen + 1 day."""
    problems = []
    for r in _rows(
        db,
        "select f.path, f.issue_date, f.issue_date_source, i.first_seen_at from core.files f "
        "join ingest.files i using (path, file_sha256, ingest_seq) where f.status in ('loaded', 'partial')",
    ):
        seen = r["first_seen_at"].date()
        named = NAME_DATE.search(r["path"])
        name_date = date(*map(int, named.groups())) if named else None
        if r["issue_date"] is not None and r["issue_date"] > seen + timedelta(days=1):
            problems.append(f"{r['path']}: issue date {r['issue_date']} after first seen {seen}")
        elif name_date is not None and name_date <= seen and r["issue_date"] != name_date:
            problems.append(f"{r['path']}: issue date {r['issue_date']} ({r['issue_date_source']}), not its name's")
    return problems


def _rate(closed: int, due: int) -> Decimal:
    """closed / due, 0..1, rounded half-up to the printed 2 decimals of a percentage."""
    return (Decimal(closed) / Decimal(due)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _close(a: float | None, b: float | Decimal | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - float(b)) < 1e-9)


def _identity_problems(db: Path) -> tuple[int, list[str]]:
    """Each published week's identities (domain.md), recomputed from the marts alone."""
    weeks = {r["week_start"]: r for r in _rows(db, "select * from marts.city_week_performance where city = '驻马店'")}
    units: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for r in _rows(db, "select * from marts.unit_week_performance where city = '驻马店'"):
        units[r["week_start"]].append(r)
    problems = []
    for start, w in sorted(weeks.items()):
        bad = []
        listed = [u for u in units[start] if u["on_list"]]
        prev = weeks.get(start - timedelta(days=7))
        if w["week_end"] != start + timedelta(days=6):
            bad.append(f"week_end {w['week_end']}")
        if w["closed"] + w["in_progress"] + w["overdue"] + w["disputed"] != w["due"]:
            bad.append("closed + in_progress + overdue + disputed != due")
        if not _close(w["closure_rate"], Decimal(w["closed"]) / Decimal(w["due"])):
            bad.append(f"closure_rate {w['closure_rate']}")
        if not _close(w["closure_rate_published"], _rate(w["closed"], w["due"])):
            bad.append(f"closure_rate_published {w['closure_rate_published']} != closed / due rounded")
        if sum(u["unresolved"] for u in listed) != w["overdue"]:
            bad.append("unit rows' unresolved do not sum to overdue")
        if not len(listed) == w["overdue_units"] == w["units_on_list"]:
            bad.append(f"{len(listed)} unit rows on the list, overdue_units {w['overdue_units']}")
        top3 = sum(sorted((u["unresolved"] for u in listed), reverse=True)[:3])
        if w["overdue"] and not _close(w["top3_overdue_share"], Decimal(top3) / w["overdue"]):
            bad.append("top3_overdue_share")
        if w["prev_week_published"] != (prev is not None):
            bad.append("prev_week_published")
        if prev is not None and not (
            _close(
                w["closure_rate_change_pp"],
                (Decimal(w["closed"]) / w["due"] - Decimal(prev["closed"]) / prev["due"]) * 100,
            )
            and w["overdue_change"] == w["overdue"] - prev["overdue"]
            and w["disputed_change"] == w["disputed"] - prev["disputed"]
        ):
            bad.append("changes on the previous week")
        # A unit is followed within its list (Zhumadian: both groups are one list).
        before = {(u["unit_list"], u["unit_name"]): u for u in units[start - timedelta(days=7)] if u["on_list"]}
        for u in units[start]:
            key = (u["unit_list"], u["unit_name"])
            if u["on_list"]:
                if not 0 <= u["unresolved"] <= u["dispatched"]:
                    bad.append(f"{key}: unresolved {u['unresolved']} of {u['dispatched']}")
                elif u["dispatched"] and not _close(u["unresolved_rate"], Decimal(u["unresolved"]) / u["dispatched"]):
                    bad.append(f"{key}: unresolved_rate")
                if w["overdue"] and not _close(u["overdue_share"], Decimal(u["unresolved"]) / w["overdue"]):
                    bad.append(f"{key}: overdue_share")
            elif (u["unresolved"], u["dispatched"]) != (0, None) or key not in before:
                bad.append(f"{key}: off the list but {u['unresolved']}/{u['dispatched']}, or not on the week before")
            if prev is not None:
                was = before[key]["unresolved"] if key in before else 0
                if (u["prev_unresolved"], u["unresolved_change"]) != (was, u["unresolved"] - was):
                    bad.append(f"{key}: prev_unresolved {u['prev_unresolved']}, the week before {was}")
                if u["prev_unit_group"] != (before[key]["unit_group"] if key in before else None):
                    bad.append(f"{key}: prev_unit_group {u['prev_unit_group']}")
        problems += [f"{start}: {b}" for b in bad]
    return len(weeks), problems


def _truth_problems(db: Path, entries: dict[str, hostile.Entry]) -> tuple[Counter, list[str], list[str]]:
    """Published weeks against the printing that should win; weeks left out that should not be.

    The printings a correct warehouse may publish are the entries whose truth is
    publishable (their bytes taken in: not a duplicate). The latest issue wins, a tie
    goes to the file taken in later (ingest_seq), as the README promises.
    """
    files = {
        r["path"]: r for r in _rows(db, "select path, file_sha256, issue_date, ingest_seq, status from core.files")
    }
    printings: dict[date, list[tuple[Any, int, hostile.Entry]]] = defaultdict(list)
    kinds: Counter = Counter()
    for path, e in entries.items():
        if e.truth is None or files.get(path, {}).get("status") == "duplicate":
            continue
        kinds["publishable" if e.truth.publishable else "must not be published"] += 1
        if e.truth.publishable and path in files:
            f = files[path]
            assert e.truth.week is not None
            printings[e.truth.week.start].append((f["issue_date"] or date.min, f["ingest_seq"], e))
    published = {
        r["week_start"]: r for r in _rows(db, "select * from marts.city_week_performance where city = '驻马店'")
    }
    sources = {
        r["week_start"]: r["file_sha256"] for r in _rows(db, "select week_start, file_sha256 from core.published_weeks")
    }
    units: dict[date, dict[tuple[str, str], tuple[int, int]]] = defaultdict(dict)
    for u in _rows(db, "select * from marts.unit_week_performance where city = '驻马店' and on_list"):
        units[u["week_start"]][(u["unit_group"], u["unit_name"])] = (u["dispatched"], u["unresolved"])
    wrong, left_out = [], []
    for start, row in sorted(published.items()):
        if start not in printings:
            wrong.append(f"{start}: published from {sources.get(start)}, a page that must not be")
            continue
        winner = max(printings[start], key=lambda p: (p[0], p[1]))[2]
        assert winner.truth is not None
        truth = winner.truth.figures()
        got = {k: row[k] for k in truth}
        got["closure_rate_published"] = Decimal(str(round(row["closure_rate_published"], 6)))
        if sources.get(start) != winner.sha256:
            wrong.append(f"{start}: published from {sources.get(start)}, not {winner.path} ({winner.sha256})")
        elif got != truth:
            diff = {k: (got[k], v) for k, v in truth.items() if got[k] != v}
            wrong.append(f"{start} ({winner.path}): (published, truth) {diff}")
        elif units[start] != winner.truth.units():
            wrong.append(f"{start} ({winner.path}): units {units[start]} != {winner.truth.units()}")
    left_out = [
        f"{start}: {[p[2].path for p in ps]}" for start, ps in sorted(printings.items()) if start not in published
    ]
    return kinds, wrong, left_out


def test_the_generator_gives_the_real_sample_back_from_its_figures() -> None:
    """Its pages are the sample's layout: the generator renders the sample byte for byte."""
    assert hostile.page(hostile.SAMPLE_WEEK) == hostile.SAMPLE
    assert hostile.SAMPLE_WEEK.closure_rate == Decimal("90.58")


@pytest.mark.usefixtures("prefect_harness")
def test_hostile_pages_and_odd_entries_publish_no_wrong_figure(tmp_path: Path, reliability) -> None:
    from flows.orchestration.flow import bulletin_etl
    from flows.settings import Settings
    from flows.warehouse.build import rebuild_warehouse

    count = reliability.scale(60, 2000)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("外部文件,不应被读取。", encoding="utf-8")
    pages = hostile.pages(SEED, count, weeks=max(count // 3, 12))
    odd = hostile.odd_entries(SEED, DEFAULT_MAX_FILE_BYTES, outside)
    drops = _drops(pages, odd, reliability.scale(3, 5))
    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    inbox.mkdir()
    db = wh / "bulletins.duckdb"

    failed_runs: list[str] = []
    unrecorded_after_run: list[str] = []
    created: list[list[hostile.Entry]] = []
    for n, drop in enumerate(drops, start=1):
        hostile.create(inbox, drop)
        created.append(drop)
        try:
            if n < len(drops):  # the flow's steps without Prefect: a run costs no server round trips
                load_without_prefect(inbox, wh)
            else:  # the last drop through the real flow
                summary = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
                taken = summary.files_new + summary.files_duplicate + summary.files_skipped
                assert taken == sum(1 for e in drop if e.expect), summary.line()
        except Exception:
            failed_runs.append(f"run {n}: {traceback.format_exc(limit=3)}")
            continue
        unrecorded_after_run += [f"run {n}: {p}" for p in _status_problems(db, _current(created))[0]]

    # A rerun changes nothing; a rebuild from the lake gives the same warehouse.
    before = snapshot(db, ("ingest", "raw", "core", "marts"))
    load_without_prefect(inbox, wh)
    rerun_changed = snapshot(db, ("ingest", "raw", "core", "marts")) != before
    rebuild_warehouse(Settings.resolve(inbox, wh))
    rebuild_changed = snapshot(db) != {k: v for k, v in before.items() if k.split(".")[0] in ("core", "marts")}

    entries = _current(drops)
    unrecorded, wrong_status = _status_problems(db, entries)
    issue_dates = _issue_date_problems(db)
    weeks, identities = _identity_problems(db)
    kinds, wrong_figures, left_out = _truth_problems(db, entries)
    mutations = Counter(e.truth.mutation.split(".")[0] for e in pages if e.truth is not None)
    tried = (
        f"{len(pages)} generated pages ({len(mutations)} kinds of mutation of the real sample, "
        f"{sum(1 for e in pages if e.expect == 'partial')} that must not be published; damaged bytes, undated "
        f"and future-dated, exact copies, reprints of a week, half-copied then rewritten) and "
        f"{len(odd)} odd entries, in {len(drops)} runs (the last a real flow run), then a rerun and a rebuild"
    )
    ok_runs = not failed_runs and not rerun_changed and not rebuild_changed
    reliability.record(
        "6 wrong figures pass every check",
        tried,
        f"{len(failed_runs)} failed runs; {kinds['publishable']} printings that may be published, "
        f"{kinds['must not be published']} that must not; {weeks} published weeks: {len(identities)} identity failures "
        f"recomputed from the marts, {len(wrong_figures)} weeks with a figure other than the winning "
        f"printing's, {len(left_out)} publishable weeks left out; rerun changed "
        f"{'something' if rerun_changed else 'nothing'}, rebuild {'differs' if rebuild_changed else 'equal'}",
        ok_runs and not identities and not wrong_figures and not left_out,
    )
    reliability.record(
        "8 entries with no status",
        f"the same {sum(1 for e in entries.values() if e.expect)} inbox entries, checked after every run",
        f"{len(unrecorded) + len(unrecorded_after_run)} without a status, {len(wrong_status)} with a wrong one",
        not unrecorded and not unrecorded_after_run and not wrong_status,
    )
    reliability.record(
        "14 absurd issue dates",
        f"the same pages: {sum(1 for p in entries if '2090-' in p or 'undated_' in p)} undated or named 2090-03-12, "
        "each mentioning 2090年1月1日",
        f"{len(issue_dates)} issue dates after first sight + 1 day or other than a believable file name's",
        not issue_dates,
    )
    assert failed_runs == []
    assert (unrecorded_after_run, unrecorded, wrong_status) == ([], [], [])
    assert not rerun_changed and not rebuild_changed
    assert issue_dates == []
    assert identities == []
    assert wrong_figures == []
    assert left_out == []
    assert weeks >= count // 6  # enough weeks published for the comparison to mean something
