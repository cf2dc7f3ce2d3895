"""Golden tests of the marts: fixed input rows in, exact mart rows out.

The combined timeline is `tests/fixtures/marts/timeline.json` (its "scenario" says what
each week exercises); smaller scenarios are written inline below.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flows.parsing.names import normalize_name
from flows.warehouse import db as warehouse
from flows.warehouse import models

FIXTURES = Path(__file__).parent / "fixtures" / "marts"
TIMELINE = json.loads((FIXTURES / "timeline.json").read_text(encoding="utf-8"))

G1 = "市辖区(管委会)组"
G2 = "市直单位及企业组"
D = date.fromisoformat
A1, A2, A3, A4, A5, A6, A7 = (f"a{n}00000000000000-1" for n in range(1, 8))


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert dict rows (column -> value) into a table; unit rows get their folded name as ingest does."""
    for row in rows:
        if table == "raw.bulletin_units" and "unit_name_key" not in row:
            row = {**row, "unit_name_key": normalize_name(row["unit_name_raw"])}
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"insert into {table} ({columns}) values ({marks})", list(row.values())).fetchall()


def load_inputs(con: duckdb.DuckDBPyConnection, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Insert input rows per table, filling the columns they leave out from the timeline's defaults."""
    for table, table_rows in rows.items():
        defaults = TIMELINE["defaults"].get(table, {})
        insert_rows(con, table, [{**defaults, **row} for row in table_rows])


def build(con: duckdb.DuckDBPyConnection, rows: dict[str, list[dict[str, Any]]]) -> None:
    warehouse.create_raw_tables(con)
    load_inputs(con, rows)
    models.load_seeds(con)
    models.build_models(con)


@pytest.fixture
def timeline(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = warehouse.connect(tmp_path / "bulletins.duckdb")
    try:
        build(con, TIMELINE["rows"])
        yield con
    finally:
        con.close()


def fetch(con: duckdb.DuckDBPyConnection, relation: str, order_by: str) -> tuple[list[str], list[tuple]]:
    cursor = con.execute(f"select * from {relation} order by {order_by}")
    rows = cursor.fetchall()
    return [d[0] for d in cursor.description], rows


ZHUMADIAN = "驻马店"


def zhumadian(rows: list[tuple]) -> list[tuple]:
    """Rows written (week_start, week_end, ...) as Zhumadian's: its city, and no period label."""
    return [(ZHUMADIAN, r[0], r[1], None, *r[2:]) for r in rows]


def assert_rows(
    columns: list[str], actual: list[tuple], expected_columns: tuple[str, ...], expected: list[tuple]
) -> None:
    """Exact comparison, floats to 1e-12; booleans must be booleans."""
    assert tuple(columns) == expected_columns
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}: {actual}"
    for n, (got, want) in enumerate(zip(actual, expected, strict=True)):
        for column, g, w in zip(columns, got, want, strict=True):
            where = f"row {n} ({want[:5]}) column {column}: got {g!r}, expected {w!r}"
            if isinstance(w, float):
                assert g == pytest.approx(w, rel=1e-12, abs=1e-12), where
            else:
                assert type(g) is type(w) and g == w, where


# ------------------------------------------------------------------ unit mart

UNIT_COLUMNS = (
    "city", "week_start", "week_end", "period_label", "unit_name", "unit_group", "on_list", "dispatched", "unresolved",
    "unresolved_rate", "prev_week_published", "prev_on_list", "prev_dispatched", "prev_unresolved",
    "unresolved_change", "unresolved_rate_change_pp", "weeks_on_list_streak", "list_change",
    "rank_in_group", "weeks_on_list_total", "prev_unresolved_rate", "prev_rank_in_group",
    "rank_change", "resolves_nothing", "overdue_share",
)  # fmt: skip

# week_start, week_end, unit_name, unit_group, on_list, dispatched, unresolved, unresolved_rate,
#   prev_week_published, prev_on_list, prev_dispatched, prev_unresolved, unresolved_change,
#   unresolved_rate_change_pp, weeks_on_list_streak, list_change, rank_in_group,
#   weeks_on_list_total, prev_unresolved_rate, prev_rank_in_group, rank_change,
#   resolves_nothing, overdue_share
TIMELINE_UNIT_WEEKS = [
    # W1: the first published week: nothing before it, so every prev_* and list_change is NULL.
    (D("2020-12-07"), D("2020-12-13"), "中国电信驻马店分公司", G2, True, 68, 30, 30 / 68,
     False, None, None, None, None,
     None, 1, None, 1,
     1, None, None, None,
     False, 30 / 100),
    (D("2020-12-07"), D("2020-12-13"), "河南移动驻马店分公司", G2, True, 60, 20, 20 / 60,
     False, None, None, None, None,
     None, 1, None, 2,
     1, None, None, None,
     False, 20 / 100),
    (D("2020-12-07"), D("2020-12-13"), "经济开发区管委会", G1, True, 500, 10, 10 / 500,
     False, None, None, None, None,
     None, 1, None, 2,
     1, None, None, None,
     False, 10 / 100),
    # printed as the alias 驿城区人民政府
    (D("2020-12-07"), D("2020-12-13"), "驿城区政府", G1, True, 1000, 40, 40 / 1000,
     False, None, None, None, None,
     None, 1, None, 1,
     1, None, None, None,
     False, 40 / 100),
    # W2: previous week published. 联通 printed with a space; 移动 and 联通 tie at rank 2.
    (D("2020-12-14"), D("2020-12-20"), "中国电信驻马店分公司", G2, True, 68, 68, 1.0,
     True, True, 68, 30, 38,
     (68 / 68 - 30 / 68) * 100, 2, "stayed", 1,
     2, 30 / 68, 1, 0,
     True, 68 / 131),
    (D("2020-12-14"), D("2020-12-20"), "中国联通驻马店分公司", G2, True, 59, 9, 9 / 59,
     True, False, None, 0, 9,
     None, 1, "entered", 2,
     1, None, None, None,
     False, 9 / 131),
    (D("2020-12-14"), D("2020-12-20"), "市城乡一体化示范区管委会", G1, True, 16, 5, 5 / 16,
     True, False, None, 0, 5,
     None, 1, "entered", 2,
     1, None, None, None,
     False, 5 / 131),
    (D("2020-12-14"), D("2020-12-20"), "河南移动驻马店分公司", G2, True, 55, 9, 9 / 55,
     True, True, 60, 20, -11,
     (9 / 55 - 20 / 60) * 100, 2, "stayed", 2,
     2, 20 / 60, 2, 0,
     False, 9 / 131),
    # left the list: unresolved 0, dispatched unknown, group from W1
    (D("2020-12-14"), D("2020-12-20"), "经济开发区管委会", G1, False, None, 0, None,
     True, True, 500, 10, -10,
     None, 0, "left", None,
     1, 10 / 500, 2, None,
     False, 0.0),
    # printed as the canonical name: one unit with W1's alias
    (D("2020-12-14"), D("2020-12-20"), "驿城区政府", G1, True, 1013, 40, 40 / 1013,
     True, True, 1000, 40, 0,
     (40 / 1013 - 40 / 1000) * 100, 2, "stayed", 1,
     2, 40 / 1000, 1, 0,
     False, 40 / 131),
    # W3 (2020-12-21) is unpublished: its only bulletin fails a check. No rows.
    # W4 across New Year, after the gap: prev_* NULL, streaks restart, no "left" rows.
    # Figures from the correction (a5), not the first printing (a4).
    (D("2020-12-28"), D("2021-01-03"), "中国电信驻马店分公司", G2, True, 70, 40, 40 / 70,
     False, None, None, None, None,
     None, 1, None, 1,
     3, None, None, None,
     False, 40 / 120),
    (D("2020-12-28"), D("2021-01-03"), "经济开发区管委会", G1, True, 400, 20, 20 / 400,
     False, None, None, None, None,
     None, 1, None, 2,
     2, None, None, None,
     False, 20 / 120),
    (D("2020-12-28"), D("2021-01-03"), "驿城区政府", G1, True, 1100, 60, 60 / 1100,
     False, None, None, None, None,
     None, 1, None, 1,
     3, None, None, None,
     False, 60 / 120),
    # W5: previous week (2020-12-28) published across New Year; a6 counted once.
    (D("2021-01-04"), D("2021-01-10"), "中一市政建设管理有限公司", G2, True, 80, 60, 60 / 80,
     True, False, None, 0, 60,
     None, 1, "entered", 1,
     1, None, None, None,
     False, 60 / 150),
    (D("2021-01-04"), D("2021-01-10"), "中国电信驻马店分公司", G2, True, 70, 50, 50 / 70,
     True, True, 70, 40, 10,
     (50 / 70 - 40 / 70) * 100, 2, "stayed", 2,
     4, 40 / 70, 1, -1,
     False, 50 / 150),
    # printed as 驻马店市城乡一体化示范区管委会; was on W2's list, not W4's
    (D("2021-01-04"), D("2021-01-10"), "市城乡一体化示范区管委会", G1, True, 20, 10, 10 / 20,
     True, False, None, 0, 10,
     None, 1, "entered", 2,
     2, None, None, None,
     False, 10 / 150),
    (D("2021-01-04"), D("2021-01-10"), "经济开发区管委会", G1, False, None, 0, None,
     True, True, 400, 20, -20,
     None, 0, "left", None,
     2, 20 / 400, 2, None,
     False, 0.0),
    (D("2021-01-04"), D("2021-01-10"), "驿城区政府", G1, True, 1200, 30, 30 / 1200,
     True, True, 1100, 60, -30,
     (30 / 1200 - 60 / 1100) * 100, 2, "stayed", 1,
     4, 60 / 1100, 1, 0,
     False, 30 / 150),
]  # fmt: skip


def test_unit_week_performance_timeline(timeline: duckdb.DuckDBPyConnection) -> None:
    columns, rows = fetch(timeline, "marts.unit_week_performance", "week_start, unit_name")
    expected = sorted(TIMELINE_UNIT_WEEKS, key=lambda r: (r[0], r[2]))
    assert_rows(columns, rows, UNIT_COLUMNS, zhumadian(expected))


# ------------------------------------------------------------------ city mart

CITY_COLUMNS = (
    "city", "week_start", "week_end", "period_label", "received", "due", "closed", "in_progress", "overdue", "disputed",
    "closure_rate", "closure_rate_published", "prev_week_published", "prev_closure_rate",
    "closure_rate_change_pp", "overdue_change", "disputed_change", "units_on_list",
    "units_entered", "units_left", "top3_overdue_share", "linked_units", "overdue_units",
    "bulletin_id", "issue_date",
)  # fmt: skip

TIMELINE_CITY_WEEKS = [
    # first week: no previous week
    (D("2020-12-07"), D("2020-12-13"), 4000, 5000, 4500, 300, 100, 100,
     4500 / 5000, 0.9, False, None,
     None, None, None, 4,
     None, None, (40 + 30 + 20) / 100, 18, 4,
     A1, D("2020-12-15")),
    # the sample's figures; top three: 68 + 40 + 9
    (D("2020-12-14"), D("2020-12-20"), 4852, 5723, 5184, 232, 131, 176,
     5184 / 5723, 0.9058, True, 4500 / 5000,
     (5184 / 5723 - 4500 / 5000) * 100, 131 - 100, 176 - 100, 5,
     2, 1, (68 + 40 + 9) / 131, 18, 5,
     A2, D("2020-12-22")),
    # 2020-12-21 unpublished; across New Year, the correction printed 2021-01-06 wins
    (D("2020-12-28"), D("2021-01-03"), 4100, 5000, 4400, 300, 120, 180,
     4400 / 5000, 0.88, False, None,
     None, None, None, 3,
     None, None, (60 + 40 + 20) / 120, 18, 3,
     A5, D("2021-01-06")),
    # the failing reprint of 2021-01-19 (a7) does not replace a6
    (D("2021-01-04"), D("2021-01-10"), 4500, 6000, 5500, 250, 150, 100,
     5500 / 6000, 0.9167, True, 4400 / 5000,
     (5500 / 6000 - 4400 / 5000) * 100, 150 - 120, 100 - 180, 4,
     2, 1, (60 + 50 + 30) / 150, 18, 4,
     A6, D("2021-01-12")),
]  # fmt: skip


def test_city_week_performance_timeline(timeline: duckdb.DuckDBPyConnection) -> None:
    columns, rows = fetch(timeline, "marts.city_week_performance", "week_start")
    assert_rows(columns, rows, CITY_COLUMNS, zhumadian(TIMELINE_CITY_WEEKS))


# ------------------------------------------------------------------ core


def test_core_bulletins_checks_and_supersession(timeline: duckdb.DuckDBPyConnection) -> None:
    rows = timeline.execute(
        "select bulletin_id, period_start, passes_checks, superseded from core.bulletins order by bulletin_id"
    ).fetchall()
    assert rows == [
        (A1, D("2020-12-07"), True, False),
        (A2, D("2020-12-14"), True, False),
        (A3, D("2020-12-21"), False, False),  # fails, nothing to supersede it
        (A4, D("2020-12-28"), True, True),  # corrected by a5, printed a day later
        (A5, D("2020-12-28"), True, False),
        (A6, D("2021-01-04"), True, False),  # a later but failing reprint does not supersede
        (A7, D("2021-01-04"), False, False),
    ]


def test_duplicate_file_counts_once(timeline: duckdb.DuckDBPyConnection) -> None:
    files = timeline.execute("select path, status from staging.stg_files where file_sha256 like 'a6%'").fetchall()
    assert files == [("2021-01-12.txt", "loaded")]
    units = timeline.execute("select count(*) from core.bulletin_units where bulletin_id = ?", [A6]).fetchall()
    assert units == [(4,)]
    bulletins = timeline.execute("select count(*) from core.bulletins where bulletin_id = ?", [A6]).fetchall()
    assert bulletins == [(1,)]
    quarantined = timeline.execute("select count(*) from staging.stg_files where status = 'quarantined'").fetchall()
    assert quarantined == [(0,)]


def test_bulletin_units_canonical_names(timeline: duckdb.DuckDBPyConnection) -> None:
    rows = timeline.execute(
        "select distinct unit_name_raw, unit_name from core.bulletin_units "
        "where unit_name_raw <> unit_name order by unit_name_raw"
    ).fetchall()
    assert rows == [
        ("中国联通 驻马店分公司", "中国联通驻马店分公司"),
        ("驻马店市城乡一体化示范区管委会", "市城乡一体化示范区管委会"),
        ("驿城区人民政府", "驿城区政府"),
    ]


# ------------------------------------------------------------------ focused scenarios


def _plus_days(day: str, days: int) -> str:
    return str(D(day) + timedelta(days=days))


def _file(n: int, issue_date: str | None, status: str = "loaded") -> dict[str, Any]:
    return {
        "file_sha256": f"c{n}".ljust(64, "0"),
        "path": f"f{n}.txt",
        "issue_date": issue_date,
        "status": status,
        "ingest_seq": n,
        "batch_id": f"b{n}",
    }


def _bulletin(
    n: int, seq: int, period_start: str, issue_date: str | None, failed: list[str] | None = None, **figures: Any
) -> dict[str, Any]:
    row = {
        "bulletin_id": f"c{n}".ljust(16, "0") + f"-{seq}",
        "file_sha256": f"c{n}".ljust(64, "0"),
        "seq": seq,
        "issue_date": issue_date,
        "period_start": period_start,
        "period_end": _plus_days(period_start, 6),
        "received": 100,
        "due": 100,
        "closed": 90,
        "in_progress": 5,
        "overdue": 5,
        "disputed": 0,
        "closure_rate_published": 0.9,
        "overdue_units": 1,
        "failed_checks": failed or [],
        "batch_id": f"b{n}",
    }
    row.update(figures)
    return row


def _unit(
    n: int, seq: int, name: str, dispatched: int, unresolved: int, row_no: int = 1, group: str = G1
) -> dict[str, Any]:
    return {
        "bulletin_id": f"c{n}".ljust(16, "0") + f"-{seq}",
        "file_sha256": f"c{n}".ljust(64, "0"),
        "unit_group": group,
        "unit_name_raw": name,
        "dispatched": dispatched,
        "unresolved": unresolved,
        "row_no": row_no,
        "batch_id": f"b{n}",
    }


def test_supersession_tie_breaks(con: duckdb.DuckDBPyConnection) -> None:
    """Later issue wins; NULL issue date is earliest; same issue: later ingest; same file: later seq."""
    build(
        con,
        {
            "ingest.files": [
                _file(1, None),
                _file(2, "2021-02-01"),
                _file(3, "2021-02-01"),
                _file(4, "2021-02-09"),
                _file(5, "2021-02-20"),
                _file(6, "2021-02-02"),
                _file(7, "2021-03-01"),
            ],
            "raw.bulletins": [
                # week of 2021-01-25: four printings; the last passing one wins
                _bulletin(1, 1, "2021-01-25", None),
                _bulletin(2, 1, "2021-01-25", "2021-02-01"),
                _bulletin(3, 1, "2021-01-25", "2021-02-01"),  # same issue, ingested later
                _bulletin(3, 2, "2021-01-25", "2021-02-01"),  # same file, later in it: wins
                # week of 2021-02-01: a failing earlier printing is superseded, a failing later one is not
                _bulletin(6, 1, "2021-02-01", "2021-02-02", ["components_sum_to_due"]),
                _bulletin(4, 1, "2021-02-01", "2021-02-09"),
                _bulletin(5, 1, "2021-02-01", "2021-02-20", ["units_sum_to_overdue"]),
                # week of 2021-02-22: only a failing printing: unpublished, not superseded
                _bulletin(7, 1, "2021-02-22", "2021-03-01", ["unit_count_matches"]),
            ],
        },
    )
    rows = con.execute(
        "select bulletin_id, passes_checks, superseded from core.bulletins order by period_start, bulletin_id"
    ).fetchall()
    assert rows == [
        ("c100000000000000-1", True, True),
        ("c200000000000000-1", True, True),
        ("c300000000000000-1", True, True),
        ("c300000000000000-2", True, False),
        ("c400000000000000-1", True, False),
        ("c500000000000000-1", False, False),
        ("c600000000000000-1", False, True),
        ("c700000000000000-1", False, False),
    ]
    weeks = con.execute(
        "select week_start, bulletin_id, printings_count from core.published_weeks order by 1"
    ).fetchall()
    assert weeks == [
        (D("2021-01-25"), "c300000000000000-2", 4),
        (D("2021-02-01"), "c400000000000000-1", 3),
    ]


def test_week_with_nobody_on_the_list(con: duckdb.DuckDBPyConnection) -> None:
    """A clean week lists no unit: everyone from last week left; the city row still exists."""
    build(
        con,
        {
            "ingest.files": [_file(1, "2021-03-09"), _file(2, "2021-03-16")],
            "raw.bulletins": [
                _bulletin(1, 1, "2021-03-01", "2021-03-09"),
                _bulletin(2, 1, "2021-03-08", "2021-03-16", closed=95, overdue=0, overdue_units=0),
            ],
            "raw.bulletin_units": [_unit(1, 1, "驿城区 人民政府", 50, 5)],
        },
    )
    columns, rows = fetch(con, "marts.unit_week_performance", "week_start, unit_name")
    assert_rows(
        columns,
        rows,
        UNIT_COLUMNS,
        zhumadian([
            (D("2021-03-01"), D("2021-03-07"), "驿城区政府", G1, True, 50, 5, 5 / 50,
             False, None, None, None, None,
             None, 1, None, 1,
             1, None, None, None,
             False, 5 / 5),
            (D("2021-03-08"), D("2021-03-14"), "驿城区政府", G1, False, None, 0, None,
             True, True, 50, 5, -5,
             None, 0, "left", None,
             1, 5 / 50, 1, None,
             False, None),
        ]),
    )  # fmt: skip
    columns, rows = fetch(con, "marts.city_week_performance", "week_start")
    assert_rows(
        columns,
        rows,
        CITY_COLUMNS,
        zhumadian([
            (D("2021-03-01"), D("2021-03-07"), 100, 100, 90, 5, 5, 0,
             90 / 100, 0.9, False, None,
             None, None, None, 1,
             None, None, 5 / 5, 18, 1,
             "c100000000000000-1", D("2021-03-09")),
            (D("2021-03-08"), D("2021-03-14"), 100, 100, 95, 5, 0, 0,
             95 / 100, 0.9, True, 90 / 100,
             (95 / 100 - 90 / 100) * 100, -5, 0, 0,
             0, 1, None, 18, 0,
             "c200000000000000-1", D("2021-03-16")),
        ]),
    )  # fmt: skip
    assert models.run_data_tests(con) == []


def test_streak_survives_only_consecutive_published_weeks(con: duckdb.DuckDBPyConnection) -> None:
    """On the list 4 published weeks in a row, off one week, on again, then a gap, on again."""
    starts = ["2021-01-04", "2021-01-11", "2021-01-18", "2021-01-25", "2021-02-01", "2021-02-08", "2021-02-22"]
    on_list = [True, True, True, True, False, True, True]
    files, bulletins, units = [], [], []
    for n, (start, listed) in enumerate(zip(starts, on_list, strict=True), start=1):
        issue = _plus_days(start, 8)
        files.append(_file(n, issue))
        if listed:
            bulletins.append(_bulletin(n, 1, start, issue))
            units.append(_unit(n, 1, "经济开发区管委会", 10, 5))
        else:
            bulletins.append(_bulletin(n, 1, start, issue, closed=95, overdue=0, overdue_units=0))
    build(con, {"ingest.files": files, "raw.bulletins": bulletins, "raw.bulletin_units": units})
    rows = con.execute(
        "select week_start, on_list, weeks_on_list_streak, weeks_on_list_total, list_change, prev_week_published "
        "from marts.unit_week_performance order by week_start"
    ).fetchall()
    assert rows == [
        (D("2021-01-04"), True, 1, 1, None, False),
        (D("2021-01-11"), True, 2, 2, "stayed", True),
        (D("2021-01-18"), True, 3, 3, "stayed", True),
        (D("2021-01-25"), True, 4, 4, "stayed", True),
        (D("2021-02-01"), False, 0, 4, "left", True),
        (D("2021-02-08"), True, 1, 5, "entered", True),
        # 2021-02-15 unpublished: the streak restarts, list_change unknown
        (D("2021-02-22"), True, 1, 6, None, False),
    ]


def test_unit_printed_twice_in_one_bulletin_is_one_row(con: duckdb.DuckDBPyConnection) -> None:
    """Two spellings of one unit in one bulletin: one mart row, figures summed; the list-length test flags it."""
    build(
        con,
        {
            "ingest.files": [_file(1, "2021-03-09")],
            "raw.bulletins": [_bulletin(1, 1, "2021-03-01", "2021-03-09", overdue_units=2)],
            "raw.bulletin_units": [
                _unit(1, 1, "电信驻马店分公司", 20, 3, row_no=1, group=G2),
                _unit(1, 1, "中国电信驻马店分公司", 30, 2, row_no=2, group=G2),
            ],
        },
    )
    rows = con.execute(
        "select unit_name, unit_group, dispatched, unresolved, rank_in_group from marts.unit_week_performance"
    ).fetchall()
    assert rows == [("中国电信驻马店分公司", G2, 50, 5, 1)]
    assert [f.name for f in models.run_data_tests(con)] == ["unit_week_list_matches_overdue_units"]


# ------------------------------------------------------------------ two cities

SANMENXIA = "三门峡"
HOTLINE, PLATFORM = "12319城管热线", "数字城管平台"
Z1, Z2, S1, S1B, S2 = (f"c{n}".ljust(16, "0") + "-1" for n in range(1, 6))


def _report(n: int, period_start: str, issue_date: str, label: str, received: int) -> dict[str, Any]:
    """A Sanmenxia report: received and a period label at city level, nothing else printed."""
    return _bulletin(
        n, 1, period_start, issue_date,
        format="sanmenxia_weekly", city=SANMENXIA, period_label=label, received=received,
        due=None, closed=None, in_progress=None, overdue=None, disputed=None,
        closure_rate_published=None, linked_units=None, overdue_units=None,
    )  # fmt: skip


def _department(
    n: int, row_no: int, group: str, name: str, dispatched: int, closed: int, unresolved: int
) -> dict[str, Any]:
    row = _unit(n, 1, name, dispatched, unresolved, row_no=row_no, group=group)
    return {**row, "closed": closed, "closure_rate_published": round(closed / dispatched, 3)}


def test_two_cities_are_compared_each_within_itself(con: duckdb.DuckDBPyConnection) -> None:
    """Zhumadian and Sanmenxia weeks starting on the same days, a unit name in both cities:
    superseding, aliases, previous weeks, streaks and list changes stay within a city, and a
    unit within its group (a Sanmenxia department in two channels)."""
    build(
        con,
        {
            "ingest.files": [
                _file(1, "2021-03-09"),
                _file(2, "2021-03-23"),
                _file(3, "2021-03-10"),
                _file(4, "2021-03-20"),
                _file(5, "2021-03-17"),
            ],
            "raw.bulletins": [
                # Zhumadian: 2021-03-01 and 2021-03-15; its 2021-03-08 is unpublished
                _bulletin(
                    1, 1, "2021-03-01", "2021-03-09", closed=88, overdue=7, overdue_units=2, closure_rate_published=0.88
                ),
                _bulletin(
                    2, 1, "2021-03-15", "2021-03-23", closed=91, overdue=4, overdue_units=1, closure_rate_published=0.91
                ),
                # Sanmenxia: 2021-03-01 printed twice (the later printing, issue 2021-03-20, wins:
                # it supersedes its own city's first printing, not Zhumadian's), then 2021-03-08
                _report(3, "2021-03-01", "2021-03-10", "2021第9期", 500),
                _report(4, "2021-03-01", "2021-03-20", "2021第9期", 501),
                _report(5, "2021-03-08", "2021-03-17", "2021第10期", 480),
            ],
            "raw.bulletin_units": [
                _unit(1, 1, "驿城区政府", 50, 5, row_no=1),
                _unit(1, 1, "一支", 10, 2, row_no=2),  # Zhumadian has no alias for it
                _department(3, 1, PLATFORM, "一支队", 100, 90, 10),
                _department(4, 1, HOTLINE, "一支", 2, 1, 1),  # Sanmenxia's alias of 一支队
                _department(4, 2, PLATFORM, "一支队", 100, 90, 10),
                _department(4, 3, PLATFORM, "环卫处", 50, 49, 1),
                _department(5, 1, HOTLINE, "一支队", 3, 3, 0),
                _department(5, 2, PLATFORM, "一支队", 120, 100, 20),
                _unit(2, 1, "驿城区政府", 40, 4),
            ],
        },
    )
    superseded = con.execute("select bulletin_id, city, superseded from core.bulletins order by bulletin_id").fetchall()
    assert superseded == [
        (Z1, ZHUMADIAN, False), (Z2, ZHUMADIAN, False),
        (S1, SANMENXIA, True), (S1B, SANMENXIA, False), (S2, SANMENXIA, False),
    ]  # fmt: skip
    columns, rows = fetch(con, "marts.unit_week_performance", "city, week_start, unit_group, unit_name")
    assert_rows(
        columns,
        rows,
        UNIT_COLUMNS,
        [
            (SANMENXIA, D("2021-03-01"), D("2021-03-07"), "2021第9期", "一支队", HOTLINE, True, 2, 1, 1 / 2,
             False, None, None, None, None,
             None, 1, None, 1,
             1, None, None, None,
             False, None),
            (SANMENXIA, D("2021-03-01"), D("2021-03-07"), "2021第9期", "一支队", PLATFORM, True, 100, 10, 10 / 100,
             False, None, None, None, None,
             None, 1, None, 1,
             1, None, None, None,
             False, None),
            (SANMENXIA, D("2021-03-01"), D("2021-03-07"), "2021第9期", "环卫处", PLATFORM, True, 50, 1, 1 / 50,
             False, None, None, None, None,
             None, 1, None, 2,
             1, None, None, None,
             False, None),
            (SANMENXIA, D("2021-03-08"), D("2021-03-14"), "2021第10期", "一支队", HOTLINE, True, 3, 0, 0.0,
             True, True, 2, 1, -1,
             (0 / 3 - 1 / 2) * 100, 2, "stayed", 1,
             2, 1 / 2, 1, 0,
             False, None),
            (SANMENXIA, D("2021-03-08"), D("2021-03-14"), "2021第10期", "一支队", PLATFORM, True, 120, 20, 20 / 120,
             True, True, 100, 10, 10,
             (20 / 120 - 10 / 100) * 100, 2, "stayed", 1,
             2, 10 / 100, 1, 0,
             False, None),
            (SANMENXIA, D("2021-03-08"), D("2021-03-14"), "2021第10期", "环卫处", PLATFORM, False, None, 0, None,
             True, True, 50, 1, -1,
             None, 0, "left", None,
             1, 1 / 50, 2, None,
             False, None),
            (ZHUMADIAN, D("2021-03-01"), D("2021-03-07"), None, "一支", G1, True, 10, 2, 2 / 10,
             False, None, None, None, None,
             None, 1, None, 2,
             1, None, None, None,
             False, 2 / 7),
            (ZHUMADIAN, D("2021-03-01"), D("2021-03-07"), None, "驿城区政府", G1, True, 50, 5, 5 / 50,
             False, None, None, None, None,
             None, 1, None, 1,
             1, None, None, None,
             False, 5 / 7),
            # Zhumadian's 2021-03-08 is unpublished (Sanmenxia's is not): no previous week,
            # the streak restarts, no "left" row for 一支
            (ZHUMADIAN, D("2021-03-15"), D("2021-03-21"), None, "驿城区政府", G1, True, 40, 4, 4 / 40,
             False, None, None, None, None,
             None, 1, None, 1,
             2, None, None, None,
             False, 4 / 4),
        ],
    )  # fmt: skip
    columns, rows = fetch(con, "marts.city_week_performance", "city, week_start")
    assert_rows(
        columns,
        rows,
        CITY_COLUMNS,
        [
            # Sanmenxia prints received only: everything computed from the rest is NULL
            (SANMENXIA, D("2021-03-01"), D("2021-03-07"), "2021第9期", 501, None, None, None, None, None,
             None, None, False, None,
             None, None, None, 3,
             None, None, None, None, None,
             S1B, D("2021-03-20")),
            (SANMENXIA, D("2021-03-08"), D("2021-03-14"), "2021第10期", 480, None, None, None, None, None,
             None, None, True, None,
             None, None, None, 2,
             0, 1, None, None, None,
             S2, D("2021-03-17")),
            (ZHUMADIAN, D("2021-03-01"), D("2021-03-07"), None, 100, 100, 88, 5, 7, 0,
             88 / 100, 0.88, False, None,
             None, None, None, 2,
             None, None, (5 + 2) / 7, 18, 2,
             Z1, D("2021-03-09")),
            (ZHUMADIAN, D("2021-03-15"), D("2021-03-21"), None, 100, 100, 91, 5, 4, 0,
             91 / 100, 0.91, False, None,
             None, None, None, 1,
             None, None, 4 / 4, 18, 1,
             Z2, D("2021-03-23")),
        ],
    )  # fmt: skip
    assert models.run_data_tests(con) == []
