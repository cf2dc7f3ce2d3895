"""Two cities in one warehouse: synthetic Sanmenxia weeks beside the bundled Zhumadian weeks.

Built through the warehouse layer (parse -> lake -> DuckDB -> models, no Prefect): Sanmenxia's
weeks give their own week-over-week rows, and Zhumadian's rows are the same with or without
them, in every column of every core and mart relation.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pipeline_helpers import LOADING_HISTORY
from testdata import SAMPLE_PAGE

from flows.devtools.synth import bundled_files
from flows.devtools.synth_sanmenxia import HOTLINE, PLATFORM, sanmenxia_files
from flows.warehouse import build, db
from flows.warehouse.inbox import RecordedFiles, plan_run
from flows.warehouse.ingest import process_batch

D = date.fromisoformat
NOTHING_KNOWN = RecordedFiles(paths={}, path_shas=frozenset(), taken={}, max_ingest_seq=0)


def _warehouse(root: Path, files: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Load the files in one batch, build the models; every core and mart relation's rows."""
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    for name, text in files.items():
        (inbox / name).write_text(text, encoding="utf-8")
    process_batch(inbox, root / "lake", "b1", plan_run(inbox, NOTHING_KNOWN).to_parse, datetime(2026, 1, 1, tzinfo=UTC))
    with db.connection(root / "bulletins.duckdb") as con:
        db.create_raw_tables(con)
        assert build.load_and_build(con, root / "lake", ["b1"])  # data tests included
        return _relations(con)


def _relations(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
    names = con.execute(
        "select distinct schema_name || '.' || table_name from duckdb_columns() "
        "where schema_name in ('core', 'marts') order by 1"
    ).fetchall()
    out = {}
    for (name,) in names:
        if name in LOADING_HISTORY:  # when it was loaded, not what
            continue
        cursor = con.execute(f"select * from {name}")
        columns = [d[0] for d in cursor.description]
        out[name] = sorted((dict(zip(columns, row, strict=True)) for row in cursor.fetchall()), key=repr)
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list[dict[str, Any]]], ...]:
    zhumadian = {SAMPLE_PAGE.name: SAMPLE_PAGE.read_text(encoding="utf-8"), **bundled_files()}
    alone = _warehouse(tmp_path_factory.mktemp("zhumadian"), zhumadian)
    together = _warehouse(tmp_path_factory.mktemp("two-cities"), {**zhumadian, **sanmenxia_files()})
    return alone, together


# Relations that hold rows only for a page that breaks a rule (or a correction on record).
EMPTY_ON_CLEAN_PAGES = {"core.bulletin_checks", "core.bulletin_acceptances", "core.failed_weeks"}
# ... and those of monthly and quarterly scorecards: these pages are weekly (tests/test_scorecards.py).
EMPTY_ON_CLEAN_PAGES |= {"core.bulletin_scores", "marts.unit_period_scores"}


@pytest.mark.scenario
def test_zhumadian_rows_are_unchanged_by_another_city(both: tuple[dict[str, list[dict[str, Any]]], ...]) -> None:
    alone, together = both
    assert set(alone) == set(together)
    zhumadian_files = {row["file_sha256"] for row in alone["core.articles"]}
    for relation, rows in alone.items():
        if relation in EMPTY_ON_CLEAN_PAGES:
            assert rows == together[relation] == [], relation
            continue
        assert rows, relation
        if "city" in rows[0]:
            theirs = [row for row in together[relation] if row["city"] == "驻马店"]
            assert {row["city"] for row in together[relation]} == {"驻马店", "三门峡"}, relation
        else:  # core.articles: by file
            theirs = [row for row in together[relation] if row["file_sha256"] in zhumadian_files]
        assert theirs == rows, relation


def _sanmenxia(rows: list[dict[str, Any]], columns: str) -> list[tuple[Any, ...]]:
    keep = [r for r in rows if r["city"] == "三门峡"]
    keep.sort(key=lambda r: (r["week_start"], r["unit_group"], r["unit_name"]) if "unit_name" in r else r["week_start"])
    return [tuple(r[c] for c in columns.split()) for r in keep]


UNIT_COLUMNS = (
    "week_start period_label unit_group unit_name on_list dispatched unresolved prev_unresolved "
    "unresolved_change list_change weeks_on_list_streak weeks_on_list_total rank_in_group"
)


def test_sanmenxia_week_over_week(both: tuple[dict[str, list[dict[str, Any]]], ...]) -> None:
    _, together = both
    assert _sanmenxia(together["marts.unit_week_performance"], UNIT_COLUMNS) == [
        # 2021第7期: the first week, no previous one
        (D("2021-02-27"), "2021第7期", HOTLINE, "一支队", True, 1, 0, None, None, None, 1, 1, 1),
        (D("2021-02-27"), "2021第7期", HOTLINE, "渣土办", True, 2, 0, None, None, None, 1, 1, 1),
        (D("2021-02-27"), "2021第7期", PLATFORM, "一支队", True, 167, 17, None, None, None, 1, 1, 1),
        (D("2021-02-27"), "2021第7期", PLATFORM, "二支队", True, 193, 8, None, None, None, 1, 1, 2),
        (D("2021-02-27"), "2021第7期", PLATFORM, "环卫处", True, 50, 0, None, None, None, 1, 1, 3),
        # 2021第8期 (pipe rows): 渣土办 and 环卫处 leave, 三支队 enters and ties 一支队 at 10
        (D("2021-03-06"), "2021第8期", HOTLINE, "一支队", True, 3, 1, 0, 1, "stayed", 2, 2, 1),
        (D("2021-03-06"), "2021第8期", HOTLINE, "渣土办", False, None, 0, 0, 0, "left", 0, 1, None),
        (D("2021-03-06"), "2021第8期", PLATFORM, "一支队", True, 150, 10, 17, -7, "stayed", 2, 2, 1),
        (D("2021-03-06"), "2021第8期", PLATFORM, "三支队", True, 90, 10, 0, 10, "entered", 1, 1, 1),
        (D("2021-03-06"), "2021第8期", PLATFORM, "二支队", True, 180, 0, 8, -8, "stayed", 2, 2, 3),
        (D("2021-03-06"), "2021第8期", PLATFORM, "环卫处", False, None, 0, 0, 0, "left", 0, 1, None),
        # 2021第10期 after an unpublished week (2021-03-13): no previous week, streaks restart
        (D("2021-03-20"), "2021第10期", HOTLINE, "渣土办", True, 1, 0, None, None, None, 1, 2, 1),
        (D("2021-03-20"), "2021第10期", PLATFORM, "一支队", True, 160, 10, None, None, None, 1, 3, 1),
        (D("2021-03-20"), "2021第10期", PLATFORM, "三支队", True, 100, 1, None, None, None, 1, 2, 2),
    ]
    city_columns = (
        "week_start week_end period_label received due closed overdue closure_rate prev_week_published "
        "units_on_list units_entered units_left top3_overdue_share"
    )
    assert _sanmenxia(together["marts.city_week_performance"], city_columns) == [
        (D("2021-02-27"), D("2021-03-05"), "2021第7期", 496, None, None, None, None, False, 5, None, None, None),
        (D("2021-03-06"), D("2021-03-12"), "2021第8期", 493, None, None, None, None, True, 4, 1, 2, None),
        (D("2021-03-20"), D("2021-03-26"), "2021第10期", 338, None, None, None, None, False, 3, None, None, None),
    ]


def test_sanmenxia_units_keep_their_printed_figures(both: tuple[dict[str, list[dict[str, Any]]], ...]) -> None:
    _, together = both
    rows = [
        (
            r["period_start"],
            r["unit_group"],
            r["unit_name"],
            r["dispatched"],
            r["closed"],
            r["unresolved"],
            str(r["closure_rate_published"]),
        )
        for r in together["core.bulletin_units"]
        if r["city"] == "三门峡" and r["period_start"] == D("2021-03-06")
    ]
    assert sorted(rows) == [
        (D("2021-03-06"), HOTLINE, "一支队", 3, 2, 1, "0.667000"),
        (D("2021-03-06"), PLATFORM, "一支队", 150, 140, 10, "0.933000"),
        (D("2021-03-06"), PLATFORM, "三支队", 90, 80, 10, "0.889000"),
        (D("2021-03-06"), PLATFORM, "二支队", 180, 180, 0, "1.000000"),
    ]
