"""Golden tests of the marts: fixed input rows in, exact mart rows out.

The combined timeline is `tests/fixtures/marts/timeline.json` (its "scenario" says what
each week exercises); smaller scenarios are written inline below.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pytest
from testdata import (
    CITY_UNITS,
    DISTRICTS,
    build_models,
    bulletin_row,
    file_row,
    load_rows,
    plus_days,
    regrouped_unit_rows,
    unit_row,
)

from flows.warehouse import datatests

G1, G2 = DISTRICTS, CITY_UNITS
D = date.fromisoformat
A1, A2, A3, A4, A5, A6, A7 = (f"a{n}00000000000000-1" for n in range(1, 8))


def build(con: duckdb.DuckDBPyConnection, rows: dict[str, list[dict[str, Any]]]) -> None:
    load_rows(con, rows)
    build_models(con)


def fetch(con: duckdb.DuckDBPyConnection, relation: str, order_by: str) -> tuple[list[str], list[tuple]]:
    cursor = con.execute(f"select * from {relation} order by {order_by}")
    rows = cursor.fetchall()
    return [d[0] for d in cursor.description], rows


ZHUMADIAN = "驻马店"


def zhumadian(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows written without city and period_label, as Zhumadian's: its city, and no period label.

    Unit rows get unit_list 驻马店 too: Zhumadian's groups are one list, the city's.
    """
    return [
        {"city": ZHUMADIAN, "period_label": None, **({"unit_list": ZHUMADIAN} if "unit_group" in row else {}), **row}
        for row in rows
    ]


def assert_rows(
    columns: list[str], actual: list[tuple], expected_columns: tuple[str, ...], expected: list[dict[str, Any]]
) -> None:
    """Exact comparison by column name, floats to 1e-12; booleans must be booleans.

    The relation's columns must be `expected_columns`, in order, and every expected row
    must name each of them once: a golden row cannot silently skip a column.
    """
    assert tuple(columns) == expected_columns
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}: {actual}"
    for n, (got_row, want) in enumerate(zip(actual, expected, strict=True)):
        missing, unknown = set(expected_columns) - set(want), set(want) - set(expected_columns)
        assert not missing and not unknown, f"expected row {n}: columns missing {missing}, unknown {unknown}"
        got = dict(zip(columns, got_row, strict=True))
        label = ", ".join(str(want[c]) for c in ("city", "week_start", "unit_name") if c in want)
        for column, w in want.items():
            g = got[column]
            where = f"row {n} ({label}) column {column}: got {g!r}, expected {w!r}"
            if isinstance(w, float):
                assert g == pytest.approx(w, rel=1e-12, abs=1e-12), where
            else:
                assert type(g) is type(w) and g == w, where


# ------------------------------------------------------------------ unit mart

UNIT_COLUMNS = (
    "city", "week_start", "week_end", "period_label", "unit_name", "unit_group", "unit_list", "on_list", "dispatched",
    "unresolved", "unresolved_rate", "prev_week_published", "prev_on_list", "prev_dispatched", "prev_unresolved",
    "unresolved_change", "unresolved_rate_change_pp", "weeks_on_list_streak", "list_change",
    "rank_in_group", "weeks_on_list_total", "prev_unresolved_rate", "prev_unit_group", "prev_rank_in_group",
    "rank_change", "resolves_nothing", "overdue_share",
)  # fmt: skip

TIMELINE_UNIT_WEEKS = [
    # W1: the first published week: nothing before it, so every prev_* and list_change is NULL.
    {"week_start": D("2020-12-07"), "week_end": D("2020-12-13"), "unit_name": "中国电信驻马店分公司", "unit_group": G2, "on_list": True, "dispatched": 68, "unresolved": 30, "unresolved_rate": 30 / 68,
     "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 1,
     "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 30 / 100},
    {"week_start": D("2020-12-07"), "week_end": D("2020-12-13"), "unit_name": "河南移动驻马店分公司", "unit_group": G2, "on_list": True, "dispatched": 60, "unresolved": 20, "unresolved_rate": 20 / 60,
     "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 2,
     "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 20 / 100},
    {"week_start": D("2020-12-07"), "week_end": D("2020-12-13"), "unit_name": "经济开发区管委会", "unit_group": G1, "on_list": True, "dispatched": 500, "unresolved": 10, "unresolved_rate": 10 / 500,
     "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 2,
     "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 10 / 100},
    # printed as the alias 驿城区人民政府
    {"week_start": D("2020-12-07"), "week_end": D("2020-12-13"), "unit_name": "驿城区政府", "unit_group": G1, "on_list": True, "dispatched": 1000, "unresolved": 40, "unresolved_rate": 40 / 1000,
     "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 1,
     "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 40 / 100},
    # W2: previous week published. 联通 printed with a space; 移动 and 联通 tie at rank 2.
    {"week_start": D("2020-12-14"), "week_end": D("2020-12-20"), "unit_name": "中国电信驻马店分公司", "unit_group": G2, "on_list": True, "dispatched": 68, "unresolved": 68, "unresolved_rate": 1.0,
     "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 68, "prev_unresolved": 30, "unresolved_change": 38,
     "unresolved_rate_change_pp": (68 / 68 - 30 / 68) * 100, "weeks_on_list_streak": 2, "list_change": "stayed", "rank_in_group": 1,
     "weeks_on_list_total": 2, "prev_unresolved_rate": 30 / 68, "prev_unit_group": G2, "prev_rank_in_group": 1, "rank_change": 0,
     "resolves_nothing": True, "overdue_share": 68 / 131},
    {"week_start": D("2020-12-14"), "week_end": D("2020-12-20"), "unit_name": "中国联通驻马店分公司", "unit_group": G2, "on_list": True, "dispatched": 59, "unresolved": 9, "unresolved_rate": 9 / 59,
     "prev_week_published": True, "prev_on_list": False, "prev_dispatched": None, "prev_unresolved": 0, "unresolved_change": 9,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": "entered", "rank_in_group": 2,
     "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 9 / 131},
    {"week_start": D("2020-12-14"), "week_end": D("2020-12-20"), "unit_name": "市城乡一体化示范区管委会", "unit_group": G1, "on_list": True, "dispatched": 16, "unresolved": 5, "unresolved_rate": 5 / 16,
     "prev_week_published": True, "prev_on_list": False, "prev_dispatched": None, "prev_unresolved": 0, "unresolved_change": 5,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": "entered", "rank_in_group": 2,
     "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 5 / 131},
    {"week_start": D("2020-12-14"), "week_end": D("2020-12-20"), "unit_name": "河南移动驻马店分公司", "unit_group": G2, "on_list": True, "dispatched": 55, "unresolved": 9, "unresolved_rate": 9 / 55,
     "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 60, "prev_unresolved": 20, "unresolved_change": -11,
     "unresolved_rate_change_pp": (9 / 55 - 20 / 60) * 100, "weeks_on_list_streak": 2, "list_change": "stayed", "rank_in_group": 2,
     "weeks_on_list_total": 2, "prev_unresolved_rate": 20 / 60, "prev_unit_group": G2, "prev_rank_in_group": 2, "rank_change": 0,
     "resolves_nothing": False, "overdue_share": 9 / 131},
    # left the list: unresolved 0, dispatched unknown, group from W1
    {"week_start": D("2020-12-14"), "week_end": D("2020-12-20"), "unit_name": "经济开发区管委会", "unit_group": G1, "on_list": False, "dispatched": None, "unresolved": 0, "unresolved_rate": None,
     "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 500, "prev_unresolved": 10, "unresolved_change": -10,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 0, "list_change": "left", "rank_in_group": None,
     "weeks_on_list_total": 1, "prev_unresolved_rate": 10 / 500, "prev_unit_group": G1, "prev_rank_in_group": 2, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 0.0},
    # printed as the canonical name: one unit with W1's alias
    {"week_start": D("2020-12-14"), "week_end": D("2020-12-20"), "unit_name": "驿城区政府", "unit_group": G1, "on_list": True, "dispatched": 1013, "unresolved": 40, "unresolved_rate": 40 / 1013,
     "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 1000, "prev_unresolved": 40, "unresolved_change": 0,
     "unresolved_rate_change_pp": (40 / 1013 - 40 / 1000) * 100, "weeks_on_list_streak": 2, "list_change": "stayed", "rank_in_group": 1,
     "weeks_on_list_total": 2, "prev_unresolved_rate": 40 / 1000, "prev_unit_group": G1, "prev_rank_in_group": 1, "rank_change": 0,
     "resolves_nothing": False, "overdue_share": 40 / 131},
    # W3 (2020-12-21) is unpublished: its only bulletin fails a check. No rows.
    # W4 across New Year, after the gap: prev_* NULL, streaks restart, no "left" rows.
    # Figures from the correction (a5), not the first printing (a4).
    {"week_start": D("2020-12-28"), "week_end": D("2021-01-03"), "unit_name": "中国电信驻马店分公司", "unit_group": G2, "on_list": True, "dispatched": 70, "unresolved": 40, "unresolved_rate": 40 / 70,
     "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 1,
     "weeks_on_list_total": 3, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 40 / 120},
    {"week_start": D("2020-12-28"), "week_end": D("2021-01-03"), "unit_name": "经济开发区管委会", "unit_group": G1, "on_list": True, "dispatched": 400, "unresolved": 20, "unresolved_rate": 20 / 400,
     "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 2,
     "weeks_on_list_total": 2, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 20 / 120},
    {"week_start": D("2020-12-28"), "week_end": D("2021-01-03"), "unit_name": "驿城区政府", "unit_group": G1, "on_list": True, "dispatched": 1100, "unresolved": 60, "unresolved_rate": 60 / 1100,
     "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 1,
     "weeks_on_list_total": 3, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 60 / 120},
    # W5: previous week (2020-12-28) published across New Year; a6 counted once.
    {"week_start": D("2021-01-04"), "week_end": D("2021-01-10"), "unit_name": "中一市政建设管理有限公司", "unit_group": G2, "on_list": True, "dispatched": 80, "unresolved": 60, "unresolved_rate": 60 / 80,
     "prev_week_published": True, "prev_on_list": False, "prev_dispatched": None, "prev_unresolved": 0, "unresolved_change": 60,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": "entered", "rank_in_group": 1,
     "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 60 / 150},
    {"week_start": D("2021-01-04"), "week_end": D("2021-01-10"), "unit_name": "中国电信驻马店分公司", "unit_group": G2, "on_list": True, "dispatched": 70, "unresolved": 50, "unresolved_rate": 50 / 70,
     "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 70, "prev_unresolved": 40, "unresolved_change": 10,
     "unresolved_rate_change_pp": (50 / 70 - 40 / 70) * 100, "weeks_on_list_streak": 2, "list_change": "stayed", "rank_in_group": 2,
     "weeks_on_list_total": 4, "prev_unresolved_rate": 40 / 70, "prev_unit_group": G2, "prev_rank_in_group": 1, "rank_change": -1,
     "resolves_nothing": False, "overdue_share": 50 / 150},
    # printed as 驻马店市城乡一体化示范区管委会; was on W2's list, not W4's
    {"week_start": D("2021-01-04"), "week_end": D("2021-01-10"), "unit_name": "市城乡一体化示范区管委会", "unit_group": G1, "on_list": True, "dispatched": 20, "unresolved": 10, "unresolved_rate": 10 / 20,
     "prev_week_published": True, "prev_on_list": False, "prev_dispatched": None, "prev_unresolved": 0, "unresolved_change": 10,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": "entered", "rank_in_group": 2,
     "weeks_on_list_total": 2, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 10 / 150},
    {"week_start": D("2021-01-04"), "week_end": D("2021-01-10"), "unit_name": "经济开发区管委会", "unit_group": G1, "on_list": False, "dispatched": None, "unresolved": 0, "unresolved_rate": None,
     "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 400, "prev_unresolved": 20, "unresolved_change": -20,
     "unresolved_rate_change_pp": None, "weeks_on_list_streak": 0, "list_change": "left", "rank_in_group": None,
     "weeks_on_list_total": 2, "prev_unresolved_rate": 20 / 400, "prev_unit_group": G1, "prev_rank_in_group": 2, "rank_change": None,
     "resolves_nothing": False, "overdue_share": 0.0},
    {"week_start": D("2021-01-04"), "week_end": D("2021-01-10"), "unit_name": "驿城区政府", "unit_group": G1, "on_list": True, "dispatched": 1200, "unresolved": 30, "unresolved_rate": 30 / 1200,
     "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 1100, "prev_unresolved": 60, "unresolved_change": -30,
     "unresolved_rate_change_pp": (30 / 1200 - 60 / 1100) * 100, "weeks_on_list_streak": 2, "list_change": "stayed", "rank_in_group": 1,
     "weeks_on_list_total": 4, "prev_unresolved_rate": 60 / 1100, "prev_unit_group": G1, "prev_rank_in_group": 1, "rank_change": 0,
     "resolves_nothing": False, "overdue_share": 30 / 150},
]  # fmt: skip


def test_unit_week_performance_timeline(timeline: duckdb.DuckDBPyConnection) -> None:
    columns, rows = fetch(timeline, "marts.unit_week_performance", "week_start, unit_name")
    expected = sorted(TIMELINE_UNIT_WEEKS, key=lambda r: (r["week_start"], r["unit_name"]))
    assert_rows(columns, rows, UNIT_COLUMNS, zhumadian(expected))


# ------------------------------------------------------------------ city mart

CITY_COLUMNS = (
    "city", "week_start", "week_end", "period_label", "received", "due", "closed", "in_progress", "overdue", "disputed",
    "closure_rate", "closure_rate_published", "prev_week_published", "prev_closure_rate",
    "closure_rate_change_pp", "overdue_change", "disputed_change", "units_on_list",
    "units_entered", "units_left", "top3_overdue_share", "linked_units", "overdue_units",
    "bulletin_id", "issue_date", "prev_week_status", "prev_week_failed_checks",
)  # fmt: skip

TIMELINE_CITY_WEEKS = [
    # first week: no previous week
    {"week_start": D("2020-12-07"), "week_end": D("2020-12-13"), "received": 4000, "due": 5000, "closed": 4500, "in_progress": 300, "overdue": 100, "disputed": 100,
     "closure_rate": 4500 / 5000, "closure_rate_published": 0.9, "prev_week_published": False, "prev_closure_rate": None,
     "closure_rate_change_pp": None, "overdue_change": None, "disputed_change": None, "units_on_list": 4,
     "units_entered": None, "units_left": None, "top3_overdue_share": (40 + 30 + 20) / 100, "linked_units": 18, "overdue_units": 4,
     "bulletin_id": A1, "issue_date": D("2020-12-15"),
             "prev_week_status": "not_published", "prev_week_failed_checks": None},
    # the sample's figures; top three: 68 + 40 + 9
    {"week_start": D("2020-12-14"), "week_end": D("2020-12-20"), "received": 4852, "due": 5723, "closed": 5184, "in_progress": 232, "overdue": 131, "disputed": 176,
     "closure_rate": 5184 / 5723, "closure_rate_published": 0.9058, "prev_week_published": True, "prev_closure_rate": 4500 / 5000,
     "closure_rate_change_pp": (5184 / 5723 - 4500 / 5000) * 100, "overdue_change": 131 - 100, "disputed_change": 176 - 100, "units_on_list": 5,
     "units_entered": 2, "units_left": 1, "top3_overdue_share": (68 + 40 + 9) / 131, "linked_units": 18, "overdue_units": 5,
     "bulletin_id": A2, "issue_date": D("2020-12-22"),
             "prev_week_status": "published", "prev_week_failed_checks": None},
    # 2020-12-21 printed but failed a check (a3): a gap with that reason; across New Year,
    # the correction printed 2021-01-06 wins
    {"week_start": D("2020-12-28"), "week_end": D("2021-01-03"), "received": 4100, "due": 5000, "closed": 4400, "in_progress": 300, "overdue": 120, "disputed": 180,
     "closure_rate": 4400 / 5000, "closure_rate_published": 0.88, "prev_week_published": False, "prev_closure_rate": None,
     "closure_rate_change_pp": None, "overdue_change": None, "disputed_change": None, "units_on_list": 3,
     "units_entered": None, "units_left": None, "top3_overdue_share": (60 + 40 + 20) / 120, "linked_units": 18, "overdue_units": 3,
     "bulletin_id": A5, "issue_date": D("2021-01-06"),
             "prev_week_status": "failed_checks", "prev_week_failed_checks": "units_sum_to_overdue"},
    # the failing reprint of 2021-01-19 (a7) does not replace a6
    {"week_start": D("2021-01-04"), "week_end": D("2021-01-10"), "received": 4500, "due": 6000, "closed": 5500, "in_progress": 250, "overdue": 150, "disputed": 100,
     "closure_rate": 5500 / 6000, "closure_rate_published": 0.9167, "prev_week_published": True, "prev_closure_rate": 4400 / 5000,
     "closure_rate_change_pp": (5500 / 6000 - 4400 / 5000) * 100, "overdue_change": 150 - 120, "disputed_change": 100 - 180, "units_on_list": 4,
     "units_entered": 2, "units_left": 1, "top3_overdue_share": (60 + 50 + 30) / 150, "linked_units": 18, "overdue_units": 4,
     "bulletin_id": A6, "issue_date": D("2021-01-12"),
             "prev_week_status": "published", "prev_week_failed_checks": None},
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


def test_supersession_tie_breaks(con: duckdb.DuckDBPyConnection) -> None:
    """Later issue wins; NULL issue date is earliest; same issue: later ingest; same file: later seq."""
    build(
        con,
        {
            "ingest.files": [
                file_row(1, None),
                file_row(2, "2021-02-01"),
                file_row(3, "2021-02-01"),
                file_row(4, "2021-02-09"),
                file_row(5, "2021-02-20"),
                file_row(6, "2021-02-02"),
                file_row(7, "2021-03-01"),
            ],
            "raw.bulletins": [
                # week of 2021-01-25: four printings; the last passing one wins
                bulletin_row(1, 1, "2021-01-25", None),
                bulletin_row(2, 1, "2021-01-25", "2021-02-01"),
                bulletin_row(3, 1, "2021-01-25", "2021-02-01"),  # same issue, ingested later
                bulletin_row(3, 2, "2021-01-25", "2021-02-01"),  # same file, later in it: wins
                # week of 2021-02-01: a failing earlier printing is superseded, a failing later one is not
                bulletin_row(6, 1, "2021-02-01", "2021-02-02", ["components_sum_to_due"]),
                bulletin_row(4, 1, "2021-02-01", "2021-02-09"),
                bulletin_row(5, 1, "2021-02-01", "2021-02-20", ["units_sum_to_overdue"]),
                # week of 2021-02-22: only a failing printing: unpublished, not superseded
                bulletin_row(7, 1, "2021-02-22", "2021-03-01", ["unit_count_matches"]),
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
            "ingest.files": [file_row(1, "2021-03-09"), file_row(2, "2021-03-16")],
            "raw.bulletins": [
                bulletin_row(1, 1, "2021-03-01", "2021-03-09"),
                bulletin_row(2, 1, "2021-03-08", "2021-03-16", closed=95, overdue=0, overdue_units=0),
            ],
            "raw.bulletin_units": [unit_row(1, 1, "驿城区 人民政府", 50, 5)],
        },
    )
    columns, rows = fetch(con, "marts.unit_week_performance", "week_start, unit_name")
    assert_rows(
        columns,
        rows,
        UNIT_COLUMNS,
        zhumadian([
            {"week_start": D("2021-03-01"), "week_end": D("2021-03-07"), "unit_name": "驿城区政府", "unit_group": G1, "on_list": True, "dispatched": 50, "unresolved": 5, "unresolved_rate": 5 / 50,
             "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 1,
             "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
             "resolves_nothing": False, "overdue_share": 5 / 5},
            {"week_start": D("2021-03-08"), "week_end": D("2021-03-14"), "unit_name": "驿城区政府", "unit_group": G1, "on_list": False, "dispatched": None, "unresolved": 0, "unresolved_rate": None,
             "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 50, "prev_unresolved": 5, "unresolved_change": -5,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 0, "list_change": "left", "rank_in_group": None,
             "weeks_on_list_total": 1, "prev_unresolved_rate": 5 / 50, "prev_unit_group": G1, "prev_rank_in_group": 1, "rank_change": None,
             "resolves_nothing": False, "overdue_share": None},
        ]),
    )  # fmt: skip
    columns, rows = fetch(con, "marts.city_week_performance", "week_start")
    assert_rows(
        columns,
        rows,
        CITY_COLUMNS,
        zhumadian([
            {"week_start": D("2021-03-01"), "week_end": D("2021-03-07"), "received": 100, "due": 100, "closed": 90, "in_progress": 5, "overdue": 5, "disputed": 0,
             "closure_rate": 90 / 100, "closure_rate_published": 0.9, "prev_week_published": False, "prev_closure_rate": None,
             "closure_rate_change_pp": None, "overdue_change": None, "disputed_change": None, "units_on_list": 1,
             "units_entered": None, "units_left": None, "top3_overdue_share": 5 / 5, "linked_units": 18, "overdue_units": 1,
             "bulletin_id": "c100000000000000-1", "issue_date": D("2021-03-09"),
             "prev_week_status": "not_published", "prev_week_failed_checks": None},
            {"week_start": D("2021-03-08"), "week_end": D("2021-03-14"), "received": 100, "due": 100, "closed": 95, "in_progress": 5, "overdue": 0, "disputed": 0,
             "closure_rate": 95 / 100, "closure_rate_published": 0.9, "prev_week_published": True, "prev_closure_rate": 90 / 100,
             "closure_rate_change_pp": (95 / 100 - 90 / 100) * 100, "overdue_change": -5, "disputed_change": 0, "units_on_list": 0,
             "units_entered": 0, "units_left": 1, "top3_overdue_share": None, "linked_units": 18, "overdue_units": 0,
             "bulletin_id": "c200000000000000-1", "issue_date": D("2021-03-16"),
             "prev_week_status": "published", "prev_week_failed_checks": None},
        ]),
    )  # fmt: skip
    assert datatests.run_data_tests(con) == []


def test_streak_survives_only_consecutive_published_weeks(con: duckdb.DuckDBPyConnection) -> None:
    """On the list 4 published weeks in a row, off one week, on again, then a gap, on again."""
    starts = ["2021-01-04", "2021-01-11", "2021-01-18", "2021-01-25", "2021-02-01", "2021-02-08", "2021-02-22"]
    on_list = [True, True, True, True, False, True, True]
    files, bulletins, units = [], [], []
    for n, (start, listed) in enumerate(zip(starts, on_list, strict=True), start=1):
        issue = plus_days(start, 8)
        files.append(file_row(n, issue))
        if listed:
            bulletins.append(bulletin_row(n, 1, start, issue))
            units.append(unit_row(n, 1, "经济开发区管委会", 10, 5))
        else:
            bulletins.append(bulletin_row(n, 1, start, issue, closed=95, overdue=0, overdue_units=0))
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


def test_unit_printed_twice_in_one_bulletin_leaves_the_bulletin_out(con: duckdb.DuckDBPyConnection) -> None:
    """Two spellings of one unit in one bulletin: a warehouse rule fails; the week is not published."""
    build(
        con,
        {
            "ingest.files": [file_row(1, "2021-03-09")],
            "raw.bulletins": [bulletin_row(1, 1, "2021-03-01", "2021-03-09", overdue_units=2)],
            "raw.bulletin_units": [
                unit_row(1, 1, "电信驻马店分公司", 20, 3, row_no=1, group=G2),
                unit_row(1, 1, "中国电信驻马店分公司", 30, 2, row_no=2, group=G2),
            ],
        },
    )
    assert con.execute("select bulletin_id, check_name, detail from core.bulletin_checks").fetchall() == [
        (
            "c1" + "0" * 14 + "-1",
            "units_unique_after_aliases",
            "中国电信驻马店分公司 printed as 电信驻马店分公司 and 中国电信驻马店分公司",
        )
    ]
    assert con.execute("select failed_checks, passes_checks from core.bulletins").fetchall() == [
        (["units_unique_after_aliases"], False)
    ]
    assert con.execute("select status, reasons from core.files").fetchall() == [
        (
            "partial",
            [
                "bulletin 1 (2021-03-01): units_unique_after_aliases: "
                "中国电信驻马店分公司 printed as 电信驻马店分公司 and 中国电信驻马店分公司"
            ],
        )
    ]
    assert con.execute("select count(*) from marts.unit_week_performance").fetchall() == [(0,)]
    assert con.execute("select count(*) from core.published_weeks").fetchall() == [(0,)]
    assert datatests.run_data_tests(con) == []


def test_zhumadian_unit_moving_groups_stays_on_the_list(con: duckdb.DuckDBPyConnection) -> None:
    """Zhumadian's two groups are one list: 市城市管理局 printed with the districts from
    2021-01-11 stayed on it (no 'left' row in its old group, no 'entered' in the new one),
    its streak goes on and its change is against last week's row in the other group; its
    rank is within the group it is printed in, and rank_change is NULL across groups."""
    build(con, regrouped_unit_rows())
    columns, rows = fetch(con, "marts.unit_week_performance", "week_start, unit_name")
    assert_rows(
        columns,
        rows,
        UNIT_COLUMNS,
        zhumadian([
            {"week_start": D("2021-01-04"), "week_end": D("2021-01-10"), "unit_name": "中国电信驻马店分公司", "unit_group": G2, "on_list": True, "dispatched": 60, "unresolved": 12, "unresolved_rate": 12 / 60,
             "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 1,
             "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
             "resolves_nothing": False, "overdue_share": 12 / 30},
            {"week_start": D("2021-01-04"), "week_end": D("2021-01-10"), "unit_name": "市城市管理局", "unit_group": G2, "on_list": True, "dispatched": 40, "unresolved": 8, "unresolved_rate": 8 / 40,
             "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 2,
             "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
             "resolves_nothing": False, "overdue_share": 8 / 30},
            {"week_start": D("2021-01-04"), "week_end": D("2021-01-10"), "unit_name": "驿城区政府", "unit_group": G1, "on_list": True, "dispatched": 100, "unresolved": 10, "unresolved_rate": 10 / 100,
             "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 1,
             "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
             "resolves_nothing": False, "overdue_share": 10 / 30},
            {"week_start": D("2021-01-11"), "week_end": D("2021-01-17"), "unit_name": "中国电信驻马店分公司", "unit_group": G2, "on_list": True, "dispatched": 60, "unresolved": 6, "unresolved_rate": 6 / 60,
             "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 60, "prev_unresolved": 12, "unresolved_change": -6,
             "unresolved_rate_change_pp": (6 / 60 - 12 / 60) * 100, "weeks_on_list_streak": 2, "list_change": "stayed", "rank_in_group": 1,
             "weeks_on_list_total": 2, "prev_unresolved_rate": 12 / 60, "prev_unit_group": G2, "prev_rank_in_group": 1, "rank_change": 0,
             "resolves_nothing": False, "overdue_share": 6 / 20},
            # moved to the districts: stayed, streak 2, compared with last week's row in G2
            {"week_start": D("2021-01-11"), "week_end": D("2021-01-17"), "unit_name": "市城市管理局", "unit_group": G1, "on_list": True, "dispatched": 50, "unresolved": 5, "unresolved_rate": 5 / 50,
             "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 40, "prev_unresolved": 8, "unresolved_change": -3,
             "unresolved_rate_change_pp": (5 / 50 - 8 / 40) * 100, "weeks_on_list_streak": 2, "list_change": "stayed", "rank_in_group": 2,
             "weeks_on_list_total": 2, "prev_unresolved_rate": 8 / 40, "prev_unit_group": G2, "prev_rank_in_group": 2, "rank_change": None,
             "resolves_nothing": False, "overdue_share": 5 / 20},
            {"week_start": D("2021-01-11"), "week_end": D("2021-01-17"), "unit_name": "驿城区政府", "unit_group": G1, "on_list": True, "dispatched": 90, "unresolved": 9, "unresolved_rate": 9 / 90,
             "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 100, "prev_unresolved": 10, "unresolved_change": -1,
             "unresolved_rate_change_pp": (9 / 90 - 10 / 100) * 100, "weeks_on_list_streak": 2, "list_change": "stayed", "rank_in_group": 1,
             "weeks_on_list_total": 2, "prev_unresolved_rate": 10 / 100, "prev_unit_group": G1, "prev_rank_in_group": 1, "rank_change": 0,
             "resolves_nothing": False, "overdue_share": 9 / 20},
            {"week_start": D("2021-01-18"), "week_end": D("2021-01-24"), "unit_name": "中国电信驻马店分公司", "unit_group": G2, "on_list": False, "dispatched": None, "unresolved": 0, "unresolved_rate": None,
             "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 60, "prev_unresolved": 6, "unresolved_change": -6,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 0, "list_change": "left", "rank_in_group": None,
             "weeks_on_list_total": 2, "prev_unresolved_rate": 6 / 60, "prev_unit_group": G2, "prev_rank_in_group": 1, "rank_change": None,
             "resolves_nothing": False, "overdue_share": 0.0},
            # a third week in a row, in the same group as last week: rank_change again
            {"week_start": D("2021-01-18"), "week_end": D("2021-01-24"), "unit_name": "市城市管理局", "unit_group": G1, "on_list": True, "dispatched": 30, "unresolved": 3, "unresolved_rate": 3 / 30,
             "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 50, "prev_unresolved": 5, "unresolved_change": -2,
             "unresolved_rate_change_pp": (3 / 30 - 5 / 50) * 100, "weeks_on_list_streak": 3, "list_change": "stayed", "rank_in_group": 1,
             "weeks_on_list_total": 3, "prev_unresolved_rate": 5 / 50, "prev_unit_group": G1, "prev_rank_in_group": 2, "rank_change": 1,
             "resolves_nothing": False, "overdue_share": 3 / 3},
            {"week_start": D("2021-01-18"), "week_end": D("2021-01-24"), "unit_name": "驿城区政府", "unit_group": G1, "on_list": False, "dispatched": None, "unresolved": 0, "unresolved_rate": None,
             "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 90, "prev_unresolved": 9, "unresolved_change": -9,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 0, "list_change": "left", "rank_in_group": None,
             "weeks_on_list_total": 2, "prev_unresolved_rate": 9 / 90, "prev_unit_group": G1, "prev_rank_in_group": 1, "rank_change": None,
             "resolves_nothing": False, "overdue_share": 0.0},
        ]),
    )  # fmt: skip
    counts = con.execute(
        "select week_start, units_on_list, units_entered, units_left from marts.city_week_performance order by 1"
    ).fetchall()
    assert counts == [
        (D("2021-01-04"), 3, None, None),
        (D("2021-01-11"), 3, 0, 0),  # the move is neither an entry nor a departure
        (D("2021-01-18"), 1, 0, 2),
    ]
    assert datatests.run_data_tests(con) == []


def test_zhumadian_unit_printed_in_both_groups_leaves_the_bulletin_out(con: duckdb.DuckDBPyConnection) -> None:
    """One list: a unit in both of Zhumadian's groups in one bulletin is listed twice (Sanmenxia's
    channels are lists of their own: see the two-city test)."""
    build(
        con,
        {
            "ingest.files": [file_row(1, "2021-03-09")],
            "raw.bulletins": [bulletin_row(1, 1, "2021-03-01", "2021-03-09", overdue_units=2)],
            "raw.bulletin_units": [
                unit_row(1, 1, "市城市管理局", 20, 3, row_no=1, group=G1),
                unit_row(1, 1, "市城市管理局", 30, 2, row_no=2, group=G2),
            ],
        },
    )
    assert con.execute("select check_name, detail from core.bulletin_checks").fetchall() == [
        ("units_unique_after_aliases", "市城市管理局 printed as 市城市管理局 and 市城市管理局")
    ]
    assert con.execute("select count(*) from marts.unit_week_performance").fetchall() == [(0,)]
    assert datatests.run_data_tests(con) == []


# ------------------------------------------------------------------ two cities

SANMENXIA = "三门峡"
HOTLINE, PLATFORM = "12319城管热线", "数字城管平台"
Z1, Z2, S1, S1B, S2 = (f"c{n}".ljust(16, "0") + "-1" for n in range(1, 6))


def _report(n: int, period_start: str, issue_date: str, label: str, received: int) -> dict[str, Any]:
    """A Sanmenxia report: received and a period label at city level, nothing else printed."""
    return bulletin_row(
        n, 1, period_start, issue_date,
        format="sanmenxia_weekly", city=SANMENXIA, period_label=label, received=received,
        due=None, closed=None, in_progress=None, overdue=None, disputed=None,
        closure_rate_published=None, linked_units=None, overdue_units=None,
    )  # fmt: skip


def _department(
    n: int, row_no: int, group: str, name: str, dispatched: int, closed: int, unresolved: int
) -> dict[str, Any]:
    row = unit_row(n, 1, name, dispatched, unresolved, row_no=row_no, group=group)
    return {**row, "closed": closed, "closure_rate_published": round(closed / dispatched, 3)}


def test_two_cities_are_compared_each_within_itself(con: duckdb.DuckDBPyConnection) -> None:
    """Zhumadian and Sanmenxia weeks starting on the same days, a unit name in both cities:
    superseding, aliases, previous weeks, streaks and list changes stay within a city, and a
    unit within its group (a Sanmenxia department in two channels)."""
    build(
        con,
        {
            "ingest.files": [
                file_row(1, "2021-03-09"),
                file_row(2, "2021-03-23"),
                file_row(3, "2021-03-10"),
                file_row(4, "2021-03-20"),
                file_row(5, "2021-03-17"),
            ],
            "raw.bulletins": [
                # Zhumadian: 2021-03-01 and 2021-03-15; its 2021-03-08 is unpublished
                bulletin_row(
                    1, 1, "2021-03-01", "2021-03-09", closed=88, overdue=7, overdue_units=2, closure_rate_published=0.88
                ),
                bulletin_row(
                    2, 1, "2021-03-15", "2021-03-23", closed=91, overdue=4, overdue_units=1, closure_rate_published=0.91
                ),
                # Sanmenxia: 2021-03-01 printed twice (the later printing, issue 2021-03-20, wins:
                # it supersedes its own city's first printing, not Zhumadian's), then 2021-03-08
                _report(3, "2021-03-01", "2021-03-10", "2021第9期", 500),
                _report(4, "2021-03-01", "2021-03-20", "2021第9期", 501),
                _report(5, "2021-03-08", "2021-03-17", "2021第10期", 480),
            ],
            "raw.bulletin_units": [
                unit_row(1, 1, "驿城区政府", 50, 5, row_no=1),
                unit_row(1, 1, "一支", 10, 2, row_no=2),  # Zhumadian has no alias for it
                _department(3, 1, PLATFORM, "一支队", 100, 90, 10),
                _department(4, 1, HOTLINE, "一支", 2, 1, 1),  # Sanmenxia's alias of 一支队
                _department(4, 2, PLATFORM, "一支队", 100, 90, 10),
                _department(4, 3, PLATFORM, "环卫处", 50, 49, 1),
                _department(5, 1, HOTLINE, "一支队", 3, 3, 0),
                _department(5, 2, PLATFORM, "一支队", 120, 100, 20),
                unit_row(2, 1, "驿城区政府", 40, 4),
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
            {"city": SANMENXIA, "week_start": D("2021-03-01"), "week_end": D("2021-03-07"), "period_label": "2021第9期", "unit_name": "一支队", "unit_group": HOTLINE, "unit_list": HOTLINE, "on_list": True, "dispatched": 2, "unresolved": 1, "unresolved_rate": 1 / 2,
             "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 1,
             "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
             "resolves_nothing": False, "overdue_share": None},
            {"city": SANMENXIA, "week_start": D("2021-03-01"), "week_end": D("2021-03-07"), "period_label": "2021第9期", "unit_name": "一支队", "unit_group": PLATFORM, "unit_list": PLATFORM, "on_list": True, "dispatched": 100, "unresolved": 10, "unresolved_rate": 10 / 100,
             "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 1,
             "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
             "resolves_nothing": False, "overdue_share": None},
            {"city": SANMENXIA, "week_start": D("2021-03-01"), "week_end": D("2021-03-07"), "period_label": "2021第9期", "unit_name": "环卫处", "unit_group": PLATFORM, "unit_list": PLATFORM, "on_list": True, "dispatched": 50, "unresolved": 1, "unresolved_rate": 1 / 50,
             "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 2,
             "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
             "resolves_nothing": False, "overdue_share": None},
            {"city": SANMENXIA, "week_start": D("2021-03-08"), "week_end": D("2021-03-14"), "period_label": "2021第10期", "unit_name": "一支队", "unit_group": HOTLINE, "unit_list": HOTLINE, "on_list": True, "dispatched": 3, "unresolved": 0, "unresolved_rate": 0.0,
             "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 2, "prev_unresolved": 1, "unresolved_change": -1,
             "unresolved_rate_change_pp": (0 / 3 - 1 / 2) * 100, "weeks_on_list_streak": 2, "list_change": "stayed", "rank_in_group": 1,
             "weeks_on_list_total": 2, "prev_unresolved_rate": 1 / 2, "prev_unit_group": HOTLINE, "prev_rank_in_group": 1, "rank_change": 0,
             "resolves_nothing": False, "overdue_share": None},
            {"city": SANMENXIA, "week_start": D("2021-03-08"), "week_end": D("2021-03-14"), "period_label": "2021第10期", "unit_name": "一支队", "unit_group": PLATFORM, "unit_list": PLATFORM, "on_list": True, "dispatched": 120, "unresolved": 20, "unresolved_rate": 20 / 120,
             "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 100, "prev_unresolved": 10, "unresolved_change": 10,
             "unresolved_rate_change_pp": (20 / 120 - 10 / 100) * 100, "weeks_on_list_streak": 2, "list_change": "stayed", "rank_in_group": 1,
             "weeks_on_list_total": 2, "prev_unresolved_rate": 10 / 100, "prev_unit_group": PLATFORM, "prev_rank_in_group": 1, "rank_change": 0,
             "resolves_nothing": False, "overdue_share": None},
            {"city": SANMENXIA, "week_start": D("2021-03-08"), "week_end": D("2021-03-14"), "period_label": "2021第10期", "unit_name": "环卫处", "unit_group": PLATFORM, "unit_list": PLATFORM, "on_list": False, "dispatched": None, "unresolved": 0, "unresolved_rate": None,
             "prev_week_published": True, "prev_on_list": True, "prev_dispatched": 50, "prev_unresolved": 1, "unresolved_change": -1,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 0, "list_change": "left", "rank_in_group": None,
             "weeks_on_list_total": 1, "prev_unresolved_rate": 1 / 50, "prev_unit_group": PLATFORM, "prev_rank_in_group": 2, "rank_change": None,
             "resolves_nothing": False, "overdue_share": None},
            {"city": ZHUMADIAN, "week_start": D("2021-03-01"), "week_end": D("2021-03-07"), "period_label": None, "unit_name": "一支", "unit_group": G1, "unit_list": ZHUMADIAN, "on_list": True, "dispatched": 10, "unresolved": 2, "unresolved_rate": 2 / 10,
             "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 2,
             "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
             "resolves_nothing": False, "overdue_share": 2 / 7},
            {"city": ZHUMADIAN, "week_start": D("2021-03-01"), "week_end": D("2021-03-07"), "period_label": None, "unit_name": "驿城区政府", "unit_group": G1, "unit_list": ZHUMADIAN, "on_list": True, "dispatched": 50, "unresolved": 5, "unresolved_rate": 5 / 50,
             "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 1,
             "weeks_on_list_total": 1, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
             "resolves_nothing": False, "overdue_share": 5 / 7},
            # Zhumadian's 2021-03-08 is unpublished (Sanmenxia's is not): no previous week,
            # the streak restarts, no "left" row for 一支
            {"city": ZHUMADIAN, "week_start": D("2021-03-15"), "week_end": D("2021-03-21"), "period_label": None, "unit_name": "驿城区政府", "unit_group": G1, "unit_list": ZHUMADIAN, "on_list": True, "dispatched": 40, "unresolved": 4, "unresolved_rate": 4 / 40,
             "prev_week_published": False, "prev_on_list": None, "prev_dispatched": None, "prev_unresolved": None, "unresolved_change": None,
             "unresolved_rate_change_pp": None, "weeks_on_list_streak": 1, "list_change": None, "rank_in_group": 1,
             "weeks_on_list_total": 2, "prev_unresolved_rate": None, "prev_unit_group": None, "prev_rank_in_group": None, "rank_change": None,
             "resolves_nothing": False, "overdue_share": 4 / 4},
        ],
    )  # fmt: skip
    columns, rows = fetch(con, "marts.city_week_performance", "city, week_start")
    assert_rows(
        columns,
        rows,
        CITY_COLUMNS,
        [
            # Sanmenxia prints received only: everything computed from the rest is NULL
            {"city": SANMENXIA, "week_start": D("2021-03-01"), "week_end": D("2021-03-07"), "period_label": "2021第9期", "received": 501, "due": None, "closed": None, "in_progress": None, "overdue": None, "disputed": None,
             "closure_rate": None, "closure_rate_published": None, "prev_week_published": False, "prev_closure_rate": None,
             "closure_rate_change_pp": None, "overdue_change": None, "disputed_change": None, "units_on_list": 3,
             "units_entered": None, "units_left": None, "top3_overdue_share": None, "linked_units": None, "overdue_units": None,
             "bulletin_id": S1B, "issue_date": D("2021-03-20"),
             "prev_week_status": "not_published", "prev_week_failed_checks": None},
            {"city": SANMENXIA, "week_start": D("2021-03-08"), "week_end": D("2021-03-14"), "period_label": "2021第10期", "received": 480, "due": None, "closed": None, "in_progress": None, "overdue": None, "disputed": None,
             "closure_rate": None, "closure_rate_published": None, "prev_week_published": True, "prev_closure_rate": None,
             "closure_rate_change_pp": None, "overdue_change": None, "disputed_change": None, "units_on_list": 2,
             "units_entered": 0, "units_left": 1, "top3_overdue_share": None, "linked_units": None, "overdue_units": None,
             "bulletin_id": S2, "issue_date": D("2021-03-17"),
             "prev_week_status": "published", "prev_week_failed_checks": None},
            {"city": ZHUMADIAN, "week_start": D("2021-03-01"), "week_end": D("2021-03-07"), "period_label": None, "received": 100, "due": 100, "closed": 88, "in_progress": 5, "overdue": 7, "disputed": 0,
             "closure_rate": 88 / 100, "closure_rate_published": 0.88, "prev_week_published": False, "prev_closure_rate": None,
             "closure_rate_change_pp": None, "overdue_change": None, "disputed_change": None, "units_on_list": 2,
             "units_entered": None, "units_left": None, "top3_overdue_share": (5 + 2) / 7, "linked_units": 18, "overdue_units": 2,
             "bulletin_id": Z1, "issue_date": D("2021-03-09"),
             "prev_week_status": "not_published", "prev_week_failed_checks": None},
            {"city": ZHUMADIAN, "week_start": D("2021-03-15"), "week_end": D("2021-03-21"), "period_label": None, "received": 100, "due": 100, "closed": 91, "in_progress": 5, "overdue": 4, "disputed": 0,
             "closure_rate": 91 / 100, "closure_rate_published": 0.91, "prev_week_published": False, "prev_closure_rate": None,
             "closure_rate_change_pp": None, "overdue_change": None, "disputed_change": None, "units_on_list": 1,
             "units_entered": None, "units_left": None, "top3_overdue_share": 4 / 4, "linked_units": 18, "overdue_units": 1,
             "bulletin_id": Z2, "issue_date": D("2021-03-23"),
             "prev_week_status": "not_published", "prev_week_failed_checks": None},
        ],
    )  # fmt: skip
    assert datatests.run_data_tests(con) == []
