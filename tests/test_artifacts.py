"""The run report: the readers and the markdown on a hand-built warehouse, and publishing."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from flows.orchestration.artifacts import (
    SUMMARY_KEY,
    UNIT_TABLE_KEY,
    WEEKLY_REPORT_KEY,
    WEEKLY_REPORT_LINK_KEY,
    publish_run_artifacts,
)
from flows.reporting.run_summary import (
    UNIT_TABLE_HEADERS,
    build_summary_markdown,
    read_run_report,
    read_unit_table,
    run_line,
)
from flows.warehouse.db import connection, create_raw_tables
from flows.warehouse.inbox import known_files, plan_run
from flows.warehouse.readers.status import (
    CityWeek,
    LeftOutBulletin,
    bulletins_left_out,
    files_by_status,
    latest_city_weeks,
)
from flows.warehouse.summary import ProblemFile, RunSummary

D = dt.date

FILES = """
insert into ingest.files by name
select * from (values
    ('aaa', '2020-12-22_page.txt', 'loaded', []::varchar[], 1),
    ('bbb', '2020-12-29_page.txt', 'partial', ['bulletin cut off'], 2),
    ('ccc', 'empty.txt', 'quarantined', ['empty file'], 3),
    ('ddd', 'blob.bin', 'quarantined', ['binary content'], 4),
    ('aaa', 'copy of 2020-12-22_page.txt', 'duplicate', ['same bytes as 2020-12-22_page.txt'], 5),
    ('eee', '2021-01-05_page.txt', 'loaded', []::varchar[], 6)
) as t(file_sha256, path, status, reasons, ingest_seq)
cross join (select 10 as size_bytes, 1 as modified_ns, 'b1' as batch_id, false as over_size_limit,
            timestamptz '2021-01-06 00:00:00+00' as first_seen_at)
"""

BULLETINS = """
create table core.bulletins as
select *, '驻马店' as city from (values
    ('aaa-1', 'aaa', date '2020-12-22', date '2020-12-14', date '2020-12-20', []::varchar[], false),
    ('bbb-1', 'bbb', date '2020-12-29', date '2020-12-21', date '2020-12-27',
        ['totals_add_up', 'units_complete'], false),
    ('eee-1', 'eee', date '2021-01-05', date '2020-12-28', date '2021-01-03', []::varchar[], false),
    ('eee-2', 'eee', date '2021-01-05', date '2020-12-14', date '2020-12-20', []::varchar[], true)
) as t(bulletin_id, file_sha256, issue_date, period_start, period_end, failed_checks, superseded)
"""

# Two cities: each one's latest week is reported (Sanmenxia's is the later one overall).
UNIT_MART = """
create table marts.unit_week_performance as
select *, weeks_on_list_streak as weeks_on_list_total, null::bigint as rank_change,
    coalesce(dispatched = unresolved, false) as resolves_nothing, null::double as overdue_share,
    case when city = '三门峡' then unit_group else city end as unit_list, null::varchar as prev_unit_group
from (values
    ('三门峡', date '2021-02-27', date '2021-03-05', '数字城管平台', '一支队', true, 167, 17, 0.101796::double,
        null::integer, null::double, null::varchar, 1, 1),
    ('驻马店', date '2020-12-14', date '2020-12-20', '市辖区(管委会)组', '驿城区', true, 10, 2, 0.2::double,
        null::integer, null::double, null::varchar, 1, 1),
    ('驻马店', date '2020-12-28', date '2021-01-03', '市辖区(管委会)组', '驿城区', true, 12, 3, 0.25::double,
        null, null, null, 1, 2),
    ('驻马店', date '2020-12-28', date '2021-01-03', '市辖区(管委会)组', '开发区', true, 9, 1, 0.111111::double,
        null, null, null, 1, 1),
    ('驻马店', date '2020-12-28', date '2021-01-03', '市直单位及企业组', '供电公司', true, 3, 3, 1.0::double,
        null, null, null, 1, 1),
    ('驻马店', date '2020-12-28', date '2021-01-03', '市直单位及企业组', '自来水公司', false, null, 0, null,
        -2, null, 'left', 0, null)
) as t(city, week_start, week_end, unit_group, unit_name, on_list, dispatched, unresolved, unresolved_rate,
       unresolved_change, unresolved_rate_change_pp, list_change, weeks_on_list_streak, rank_in_group)
"""

CITY_MART = """
create table marts.city_week_performance as
select * from (values
    ('三门峡', date '2021-02-27', date '2021-03-05', null::double, null::double, 'sss-1', date '2021-03-08'),
    ('驻马店', date '2020-12-14', date '2020-12-20', 0.9012::double, null::double, 'aaa-1', date '2020-12-22'),
    ('驻马店', date '2020-12-28', date '2021-01-03', 0.9137::double, 1.25::double, 'eee-1', date '2021-01-05')
) as t(city, week_start, week_end, closure_rate, closure_rate_change_pp, bulletin_id, issue_date)
"""


def build_warehouse(db_path: Path, *, marts: bool = True) -> None:
    with connection(db_path) as con:
        create_raw_tables(con)
        con.execute(FILES).fetchall()
        con.execute(BULLETINS).fetchall()
        if marts:
            con.execute(UNIT_MART).fetchall()
            con.execute(CITY_MART).fetchall()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "bulletins.duckdb"
    build_warehouse(path)
    return path


H = UNIT_TABLE_HEADERS
# Cities by name; groups by name when the bulletin's print order is unknown (no core.bulletin_units), then rank.
EXPECTED_TABLE = [
    {
        H["city"]: "三门峡",
        H["week_start"]: "2021-02-27",
        H["unit_group"]: "数字城管平台",
        H["rank_in_group"]: "1",
        H["unit_name"]: "一支队",
        H["on_list"]: "是",
        H["dispatched"]: "167",
        H["unresolved"]: "17",
        H["unresolved_change"]: "—",
        H["unresolved_rate"]: "10.18%",
        H["unresolved_rate_change_pp"]: "—",
        H["list_change"]: "—",
        H["weeks_on_list_streak"]: "1",
    },
    {
        H["city"]: "驻马店",
        H["week_start"]: "2020-12-28",
        H["unit_group"]: "市直单位及企业组",
        H["rank_in_group"]: "1",
        H["unit_name"]: "供电公司",
        H["on_list"]: "是",
        H["dispatched"]: "3",
        H["unresolved"]: "3",
        H["unresolved_change"]: "—",
        H["unresolved_rate"]: "100.00%",
        H["unresolved_rate_change_pp"]: "—",
        H["list_change"]: "—",
        H["weeks_on_list_streak"]: "1",
    },
    {
        H["city"]: "驻马店",
        H["week_start"]: "2020-12-28",
        H["unit_group"]: "市直单位及企业组",
        H["rank_in_group"]: "—",
        H["unit_name"]: "自来水公司",
        H["on_list"]: "否",
        H["dispatched"]: "—",
        H["unresolved"]: "0",
        H["unresolved_change"]: "-2",
        H["unresolved_rate"]: "—",
        H["unresolved_rate_change_pp"]: "—",
        H["list_change"]: "退出",
        H["weeks_on_list_streak"]: "0",
    },
    {
        H["city"]: "驻马店",
        H["week_start"]: "2020-12-28",
        H["unit_group"]: "市辖区(管委会)组",
        H["rank_in_group"]: "1",
        H["unit_name"]: "开发区",
        H["on_list"]: "是",
        H["dispatched"]: "9",
        H["unresolved"]: "1",
        H["unresolved_change"]: "—",
        H["unresolved_rate"]: "11.11%",
        H["unresolved_rate_change_pp"]: "—",
        H["list_change"]: "—",
        H["weeks_on_list_streak"]: "1",
    },
    {
        H["city"]: "驻马店",
        H["week_start"]: "2020-12-28",
        H["unit_group"]: "市辖区(管委会)组",
        H["rank_in_group"]: "2",
        H["unit_name"]: "驿城区",
        H["on_list"]: "是",
        H["dispatched"]: "12",
        H["unresolved"]: "3",
        H["unresolved_change"]: "—",
        H["unresolved_rate"]: "25.00%",
        H["unresolved_rate_change_pp"]: "—",
        H["list_change"]: "—",
        H["weeks_on_list_streak"]: "1",
    },
]

RUN = RunSummary(files_seen=2, files_new=1, files_loaded=1, files_unchanged=1, weeks_loaded=[D(2020, 12, 28)])

EXPECTED_MARKDOWN = """\
# 本次运行（bulletin-etl）

本次运行：新文件 1 个（已入库 1，部分入库 0，已隔离 0），重复 0，未变化 1；入库的周：1 周（2020-12-28）

## 各状态文件数

| 状态 | 文件数 |
| --- | ---: |
| 已入库 | 2 |
| 部分入库 | 1 |
| 已隔离 | 2 |
| 重复 | 1 |
| 合计 | 6 |

## 未计入统计表的通报

| 城市 | 周期 | 刊发日期 | 文件 | 原因 |
| --- | --- | --- | --- | --- |
| 驻马店 | 2020-12-14 至 2020-12-20 | 2021-01-05 | 2021-01-05_page.txt | 已被取代：更晚一期重新刊印了同一周 |
| 驻马店 | 2020-12-21 至 2020-12-27 | 2020-12-29 | 2020-12-29_page.txt | 校验未通过：totals_add_up；校验未通过：units_complete |

## 各城市结案率

三门峡，2021-02-27 至 2021-03-05 的一周：无结案率（该期通报没有应结案数）。
驻马店，2020-12-28 至 2021-01-03 的一周：结案率 91.37%（较上周 +1.25 个百分点）。
"""


def test_unit_table_is_each_citys_latest_week_by_group_then_rank_in_the_reports_wording(db_path: Path) -> None:
    with connection(db_path, read_only=True) as con:
        assert read_unit_table(con) == EXPECTED_TABLE


def test_readers(db_path: Path) -> None:
    with connection(db_path, read_only=True) as con:
        assert files_by_status(con) == {"loaded": 2, "partial": 1, "quarantined": 2, "duplicate": 1}
        assert bulletins_left_out(con) == [
            LeftOutBulletin(
                D(2020, 12, 14),
                D(2020, 12, 20),
                D(2021, 1, 5),
                "2021-01-05_page.txt",
                ["superseded: a later issue printed this period again"],
                "驻马店",
            ),
            LeftOutBulletin(
                D(2020, 12, 21),
                D(2020, 12, 27),
                D(2020, 12, 29),
                "2020-12-29_page.txt",
                ["failed check: totals_add_up", "failed check: units_complete"],
                "驻马店",
            ),
        ]
        assert latest_city_weeks(con) == [
            CityWeek("三门峡", D(2021, 2, 27), D(2021, 3, 5), None, None),
            CityWeek("驻马店", D(2020, 12, 28), D(2021, 1, 3), 0.9137, 1.25),
        ]


def test_summary_markdown_from_the_warehouse(db_path: Path) -> None:
    table, markdown = read_run_report(db_path, RUN)
    assert table == EXPECTED_TABLE
    assert markdown == EXPECTED_MARKDOWN


def test_summary_totals_leave_out_entries_gone_from_the_inbox(db_path: Path, tmp_path: Path) -> None:
    """As in `bulletins status`: a file removed from the inbox keeps its rows but leaves the totals."""
    with connection(db_path, read_only=True) as con:
        paths = [p for (p,) in con.execute("select path from ingest.files order by path").fetchall()]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in paths[1:]:  # the first one was removed
        (inbox / path).parent.mkdir(parents=True, exist_ok=True)
        (inbox / path).write_text("x", encoding="utf-8")
    _, everything = read_run_report(db_path, RUN)
    _, without_gone = read_run_report(db_path, RUN, inbox)
    total = re.compile(r"\| 合计 \| (\d+) \|")
    assert int(total.search(everything)[1]) == len(paths)
    assert int(total.search(without_gone)[1]) == len(paths) - 1


def test_a_runs_summary_reads_the_runs_own_listing_of_the_inbox(db_path: Path, tmp_path: Path) -> None:
    """A run passes the paths its walk found: the summary leaves out what the listing lacks,
    without looking at the disk again (a file there but not listed counts as gone)."""
    with connection(db_path, read_only=True) as con:
        paths = [p for (p,) in con.execute("select path from ingest.files order by path").fetchall()]
    inbox = tmp_path / "inbox"
    for path in paths:  # every file is on disk ...
        (inbox / path).parent.mkdir(parents=True, exist_ok=True)
        (inbox / path).write_text("x", encoding="utf-8")
    listed = plan_run(inbox, known_files([])).listed
    assert listed == set(paths)
    total = re.compile(r"\| 合计 \| (\d+) \|")
    _, from_listing = read_run_report(db_path, RUN, inbox, listed)
    assert int(total.search(from_listing)[1]) == len(paths)
    _, one_not_listed = read_run_report(db_path, RUN, inbox, listed - {paths[0]})  # ... but one not listed
    assert int(total.search(one_not_listed)[1]) == len(paths) - 1


def test_summary_markdown_first_week_and_nothing_left_out() -> None:
    markdown = build_summary_markdown(
        "新文件 1 个",
        {"loaded": 1},
        [],
        [CityWeek("驻马店", D(2020, 12, 14), D(2020, 12, 20), 0.9058, None)],
    )
    assert markdown == (
        "# 本次运行（bulletin-etl）\n\n本次运行：新文件 1 个\n\n"
        "## 各状态文件数\n\n| 状态 | 文件数 |\n| --- | ---: |\n| 已入库 | 1 |\n| 合计 | 1 |\n\n"
        "## 未计入统计表的通报\n\n"
        "无：每期通报都通过了校验，也没有被重印取代的。\n\n"
        "## 各城市结案率\n\n"
        "驻马店，2020-12-14 至 2020-12-20 的一周：结案率 90.58%（上周未发布，无从比较）。\n"
    )


def test_pipes_in_paths_do_not_break_the_table() -> None:
    markdown = build_summary_markdown("x", {}, [LeftOutBulletin(None, None, None, "a|b.txt", ["superseded"])], [])
    assert "|  | 未知 |  | a\\|b.txt | superseded |" in markdown


def test_empty_warehouse_says_there_is_nothing_yet(tmp_path: Path) -> None:
    expected = (
        "# 本次运行（bulletin-etl）\n\n本次运行：新文件 0 个（已入库 0，部分入库 0，已隔离 0），"
        "重复 0，未变化 0；入库的周：无\n\n"
        "## 各状态文件数\n\n尚无文件记录。\n\n"
        "## 未计入统计表的通报\n\n尚无通报入库。\n\n"
        "## 各城市结案率\n\n尚无统计表：还没有已发布的周。\n"
    )
    # No database file at all.
    assert read_run_report(tmp_path / "missing.duckdb", RunSummary()) == ([], expected)
    # A database with the raw tables only.
    db_path = tmp_path / "raw-only.duckdb"
    with connection(db_path) as con:
        create_raw_tables(con)
    assert read_run_report(db_path, RunSummary()) == ([], expected)


def test_core_without_marts(tmp_path: Path) -> None:
    db_path = tmp_path / "bulletins.duckdb"
    build_warehouse(db_path, marts=False)
    table, markdown = read_run_report(db_path, RUN)
    assert table == []
    assert "| 驻马店 | 2020-12-21 至 2020-12-27 | 2020-12-29 |" in markdown
    assert markdown.endswith("## 各城市结案率\n\n尚无统计表：还没有已发布的周。\n")


def test_published_inside_a_flow_run(prefect_harness, db_path: Path) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId
    from prefect.runtime import flow_run

    @flow(name="publish-artifacts-test")
    def publishing_flow(path: str) -> str:
        publish_run_artifacts(Path(path), RUN)
        return flow_run.id

    run_id = publishing_flow(str(db_path))

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[UNIT_TABLE_KEY, SUMMARY_KEY])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])),
        )
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == {UNIT_TABLE_KEY, SUMMARY_KEY}
    assert by_key[UNIT_TABLE_KEY].type == "table"
    assert _table_data(by_key[UNIT_TABLE_KEY].data) == EXPECTED_TABLE
    assert by_key[SUMMARY_KEY].type == "markdown"
    assert by_key[SUMMARY_KEY].data == EXPECTED_MARKDOWN


def _table_data(data):
    """Table artifacts are stored as JSON text."""
    import json

    return json.loads(data) if isinstance(data, str) else data


@pytest.mark.slow  # end to end; fast: publishing inside a flow run (above), the readers and the markdown
def test_a_real_run_publishes_the_figures_of_the_marts(prefect_harness, tmp_path: Path) -> None:
    from pipeline_helpers import make_inbox
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.orchestration.flow import bulletin_etl

    inbox, wh = make_inbox(tmp_path / "inbox"), tmp_path / "wh"
    state = bulletin_etl(inbox=str(inbox), warehouse=str(wh), return_state=True)
    summary = state.result()
    db_path = wh / "bulletins.duckdb"

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == {UNIT_TABLE_KEY, SUMMARY_KEY, WEEKLY_REPORT_KEY, WEEKLY_REPORT_LINK_KEY}

    with connection(db_path, read_only=True) as con:
        expected_table = read_unit_table(con)
        latest = con.execute("select max(week_start) from marts.unit_week_performance").fetchall()[0][0]
        units = con.execute(
            "select count(*) from marts.unit_week_performance where week_start = ?", [latest]
        ).fetchall()[0][0]
        rate, week_start = con.execute(
            "select closure_rate, week_start from marts.city_week_performance order by week_start desc limit 1"
        ).fetchall()[0]
    assert len(expected_table) == units > 0
    assert {(row["城市"], row["周起始日"]) for row in expected_table} == {("驻马店", latest.isoformat())}
    assert _table_data(by_key[UNIT_TABLE_KEY].data) == expected_table
    assert {"单位": "中国电信驻马店分公司", "未办结率": "56.45%", "上榜变化": "连续上榜"}.items() <= expected_table[
        2
    ].items()

    markdown = by_key[SUMMARY_KEY].data
    assert markdown == read_run_report(db_path, summary)[1]
    assert f"本次运行：{run_line(summary)}\n" in markdown
    assert f"| 已入库 | {summary.files_loaded} |" in markdown
    assert f"驻马店，{week_start} 至 " in markdown
    assert f"结案率 {float(rate) * 100:.2f}%" in markdown
    # The bundled weeks are years old: the summary carries the stale-feed warning.
    assert "## 提醒\n\n- **提醒**：" in markdown

    # Every published week loaded got its report; the newest is published as artifacts.
    reports = wh / "reports"
    assert summary.reports == [str(reports / f"report-{w}.html") for w in PUBLISHED_BUNDLED_WEEKS]
    assert summary.latest_reports == [str(reports / "report-2021-01-18.html")]
    weekly = by_key[WEEKLY_REPORT_KEY]
    assert weekly.type == "markdown"
    assert weekly.data == (reports / "report-2021-01-18.md").read_text(encoding="utf-8")
    html = (reports / "report-2021-01-18.html").resolve()
    # Prefect stores a link artifact as a markdown link.
    assert by_key[WEEKLY_REPORT_LINK_KEY].data == f"[{html}]({html.as_uri()})"


PUBLISHED_BUNDLED_WEEKS = ["2020-12-07", "2020-12-14", "2020-12-21", "2020-12-28", "2021-01-11", "2021-01-18"]


def test_artifacts_show_hostile_values_as_text_and_no_secret(prefect_harness, tmp_path: Path) -> None:
    """Unit names, file names and folders from a page reach the UI as text; a webhook's key never does."""
    from hostile_names import LINK_NAME, OSC52, assert_inert, build_hostile_warehouse, rendered
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.runtime import flow_run

    from flows.reporting.report_files import write_week_reports
    from flows.text.escape import markdown

    db_path = build_hostile_warehouse(tmp_path / "wh" / "bulletins.duckdb")
    with connection(db_path, read_only=True) as con:
        [written] = write_week_reports(con, tmp_path / f"reports {LINK_NAME.replace('/', '')}{OSC52}", ["驻马店"], None)
    summary = RunSummary(
        warnings=["notification feed_stale not sent to https://h/send?key=SECRET123&access_token=SECRET456: HTTP 500"],
        problems=[ProblemFile("quarantined", f"坏{OSC52}[x](javascript:alert(1)).txt", ["empty"])],
        reports=[str(written.html)],
    )

    @flow(name="publish-hostile-artifacts-test")
    def publishing_flow() -> str:
        publish_run_artifacts(db_path, summary)
        return flow_run.id

    run_id = publishing_flow()
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    by_key = {a.key: a for a in artifacts}
    for key in (SUMMARY_KEY, WEEKLY_REPORT_KEY):
        assert_inert(by_key[key].data)
        assert_inert(by_key[key].description or "")
    assert "SECRET" not in by_key[SUMMARY_KEY].data
    # The link artifact is Markdown too: the report's file link, its text the folder's name as is.
    html = written.html.resolve()
    assert by_key[WEEKLY_REPORT_LINK_KEY].data == f"[{markdown(html)}]({html.as_uri()})"
    assert "[click](http:evil)" in rendered(markdown(html)) and "\x1b" not in by_key[WEEKLY_REPORT_LINK_KEY].data
    assert_inert(by_key[WEEKLY_REPORT_LINK_KEY].description or "")
    # Table cells are shown as text by the UI: kept, control characters made visible.
    table = _table_data(by_key[UNIT_TABLE_KEY].data)
    assert {row["单位"] for row in table} >= {LINK_NAME, "单位\\x1b]52;c;ZXZpbA==\\x07"}
