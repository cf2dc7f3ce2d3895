"""Every table on every page (issue 17, item 3): found in the lines, stored as cells, queryable in SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from pipeline_helpers import to_parquet_lake
from testdata import PAGES, SAMPLE_PAGE

from flows.inputs import parse_input
from flows.parsing import ParsedPage, parse_file
from flows.parsing.normalize import to_lines
from flows.parsing.page_tables import PageTable, find_tables, number
from flows.warehouse import build, db, lake, lake_audit, migrate
from flows.warehouse.inbox import RecordedFiles, plan_run
from flows.warehouse.ingest import page_rows, process_batch

EMPTY = RecordedFiles(paths={}, path_shas=frozenset(), taken={}, max_ingest_seq=0)
CITIES = PAGES / "cities"


def _tables(text: str) -> tuple[PageTable, ...]:
    return find_tables(to_lines(text))


def _cells(table: PageTable) -> list[list[tuple[str, Decimal | None, int]]]:
    return [[(c.text, c.number, c.line_no) for c in row] for row in table.rows]


def _page(path: Path) -> ParsedPage:
    page = parse_file(path.name, path.read_bytes())
    assert isinstance(page, ParsedPage)
    return page


def test_numbers_are_read_only_from_whole_cells() -> None:
    assert [number(t) for t in ("1013件", "98.5%", "0.20%", "99.02分", "16", "-8件")] == [
        Decimal("1013"), Decimal("98.5"), Decimal("0.20"), Decimal("99.02"), Decimal("16"), Decimal("-8"),
    ]  # fmt: skip
    assert [number(t) for t in ("1,013", "4 852件", "无数据", "一支队", "12月", "", "1234567890123")] == [None] * 7


def test_the_zhumadian_sample_has_its_two_unit_tables() -> None:
    tables = _page(SAMPLE_PAGE).tables
    assert [(t.layout, t.header, len(t.rows), t.line_start, t.line_end) for t in tables] == [
        ("tabs", ("单位", "交办件", "未办结件"), 3, 100, 103),
        ("tabs", ("单位", "交办件", "未办结件"), 6, 108, 114),
    ]
    assert _cells(tables[0])[0] == [("驿城区政府", None, 101), ("1013件", Decimal(1013), 101), ("8件", Decimal(8), 101)]
    assert _cells(tables[1])[-1] == [("中国联通驻马店分公司", None, 114), ("59件", 59, 114), ("1件", 1, 114)]


def test_aligned_rows_with_spaces_and_a_name_glued_to_its_numbers() -> None:
    text = "市辖区(管委会)组\n单位  交办件  未办结件\n驿城区政府  1013件  8件\n经济开发区管委会 503件 6件\n驻马店市数字化城市管理领导小组"
    (table,) = _tables(text)
    assert (table.layout, table.header, table.line_start, table.line_end) == (
        "aligned",
        ("单位", "交办件", "未办结件"),
        2,
        4,
    )
    assert _cells(table) == [
        [("驿城区政府", None, 3), ("1013件", 1013, 3), ("8件", 8, 3)],
        [("经济开发区管委会", None, 4), ("503件", 503, 4), ("6件", 6, 4)],
    ]


def test_sanmenxia_one_cell_per_line_and_its_category_lists() -> None:
    tables = _page(CITIES / "sanmenxia-2020w35.txt").tables
    assert [(t.layout, t.header, len(t.rows), t.line_start, t.line_end) for t in tables] == [
        ("column_list", (), 11, 25, 67),
        ("cell_per_line", ("部门", "派遣数", "完成数", "未完成数", "完成率"), 7, 77, 155),
        ("column_list", (), 7, 161, 187),
        ("cell_per_line", ("部门", "派遣数", "完成数", "未完成数", "结案率"), 3, 197, 235),
    ]
    # 占道经营 is the first category, its count the first number eleven lines below the names
    assert _cells(tables[0])[0] == [("占道经营", None, 25), ("2", 2, 47)]
    assert _cells(tables[1])[0] == [
        ("一支队", None, 87), ("4", 4, 89), ("4", 4, 91), ("0", 0, 93), ("100%", 100, 95),
    ]  # fmt: skip
    assert _cells(tables[1])[-1][0] == ("合  计", None, 147)  # the total row is a row of the table
    assert _cells(tables[3])[0][-1] == ("98.5%", Decimal("98.5"), 215)


def test_pipe_tables_with_and_without_a_trailing_pipe() -> None:
    tables = _page(CITIES / "zhengzhou-2019w15.txt").tables
    assert [(t.layout, t.header[:3], len(t.rows), t.line_start, t.line_end) for t in tables] == [
        ("pipe", ("基础指标", "案件数", "比率指标"), 8, 7, 15),
        ("pipe", ("基础指标", "案件数", "比率指标"), 8, 19, 27),
        ("pipe", ("城区", "未派遣数", "应结案数"), 4, 31, 35),
    ]
    assert _cells(tables[0])[0] == [("受理数", None, 8), ("51571", 51571, 8)]  # `| ||`: trailing empties dropped
    assert [c.text for c in tables[2].rows[-1]][-1] == "0.00%"  # 郑东新区's row has no closing pipe
    assert tables[2].describe() == "table 城区|未派遣数|应结案数… of 4 rows at line 31"


def test_a_news_page_has_no_table() -> None:
    assert _page(PAGES / "2020-12-23_no_bulletin.txt").tables == ()
    # short heading lines, dates and a sentence with numbers are not tables
    assert (
        _tables("要闻\n\n市城管局开展整治\n\n本报讯(记者 王某)12月1日,处置案件120件,结案98件。\n2020年12月23日 星期三")
        == ()
    )


def test_page_rows_store_every_cell_with_its_header_and_line() -> None:
    rows = page_rows("a" * 64, "b1", _page(SAMPLE_PAGE))["page_tables"]
    assert len(rows) == 27  # 9 unit rows of 3 cells
    assert rows[0] == {
        "file_sha256": "a" * 64, "table_no": 1, "layout": "tabs", "row_no": 1, "column_no": 1,
        "header": "单位", "text": "驿城区政府", "number": None, "line_no": 101, "source": None, "batch_id": "b1",
    }  # fmt: skip
    assert rows[-1]["table_no"] == 2 and rows[-1]["header"] == "未办结件" and rows[-1]["number"] == 1


def _lake(tmp_path: Path, pages: dict[str, bytes]) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, data in pages.items():
        (inbox / name).write_bytes(data)
    lake_dir = tmp_path / "lake"
    process_batch(inbox, lake_dir, "b1", plan_run(inbox, EMPTY).to_parse, datetime(2026, 1, 1, tzinfo=UTC))
    return lake_dir


# The example query of docs/reference.md ("Reading a page", once the README's): a city's figures before a format reads them.
README_QUERY = """
select f.path, t.line_no, t.text as district, c.header, c.number
from core.page_tables as t
join core.page_tables as c using (file_sha256, table_no, row_no)
join core.files as f using (file_sha256)
where t.column_no = 1 and c.header in ('结案率', '按期结案率') and t.text = '金水区'
order by c.header
"""


def test_core_page_tables_holds_every_cell_and_answers_the_readme_query(tmp_path: Path) -> None:
    zhengzhou = CITIES / "zhengzhou-2019w15.txt"
    lake_dir = _lake(
        tmp_path, {"2020-12-23_sample.txt": SAMPLE_PAGE.read_bytes(), zhengzhou.name: zhengzhou.read_bytes()}
    )
    with db.connection(None) as con:
        db.create_raw_tables(con)
        assert build.load_and_build(con, lake_dir, ["b1"])
        counts = con.execute(
            "select f.path, count(distinct t.table_no), count(*) from core.page_tables as t "
            "join core.files as f using (file_sha256) group by 1 order by 1"
        ).fetchall()
        assert counts == [("2020-12-23_sample.txt", 2, 27), ("zhengzhou-2019w15.txt", 3, 2 * (6 * 4 + 2 * 2) + 4 * 10)]
        assert con.execute(README_QUERY).fetchall() == [
            ("zhengzhou-2019w15.txt", 32, "金水区", "按期结案率", Decimal("95.87")),
            ("zhengzhou-2019w15.txt", 32, "金水区", "结案率", Decimal("98.81")),
        ]
        # lineage: the line of every cell is in the decoded page, with its text on it
        line_101 = con.execute(
            "select list(text order by column_no) from core.page_tables where line_no = 101"
        ).fetchone()
        assert line_101 == (["驿城区政府", "1013件", "8件"],)


def test_a_lake_batch_from_before_page_tables_loads_and_is_not_set_aside(tmp_path: Path) -> None:
    """Batches written before the table existed have no page_tables part: no rows, no problem."""
    lake_dir = _lake(tmp_path, {"2020-12-23_sample.txt": SAMPLE_PAGE.read_bytes()})
    assert lake.read_batch(lake_dir, "page_tables", "b1").num_rows == 27
    to_parquet_lake(lake_dir, drop_tables=("page_tables",))  # as a batch written before page_tables was
    converted = migrate.migrate(lake_dir, loaded=set())
    assert converted is not None and (converted.batches, converted.problems) == (1, [])
    assert lake_audit.audit(lake_dir, loaded=set(), full=True) == []
    with db.connection(None) as con:
        db.create_raw_tables(con)
        assert build.load_and_build(con, lake_dir, ["b1"])
        assert con.execute("select count(*) from core.page_tables").fetchone() == (0,)
        assert con.execute("select count(*) from core.bulletin_units").fetchone() == (9,)


HTML = """<html><head><meta charset="utf-8"><title>某市</title></head><body><p>某市数字城管通报</p>
<table>
<tr><td>组</td><td>单位</td><td>交办件</td><td>未办结件</td></tr>
<tr><td rowspan="2">市辖区组</td><td>驿城区政府</td><td>1013件</td><td>8件</td></tr>
<tr><td>经济开发区管委会</td><td>503件</td><td>6件</td></tr>
</table></body></html>"""


def test_a_web_page_table_keeps_its_columns_and_each_cell_its_source() -> None:
    """A row under a cell spanning two rows starts with an empty cell: its columns stay in place."""
    page = parse_input("2020-12-23_page.html", HTML.encode())
    assert isinstance(page, ParsedPage)
    (table,) = page.tables
    assert (table.layout, table.header) == ("tabs", ("组", "单位", "交办件", "未办结件"))
    assert [[c.text for c in row] for row in table.rows] == [
        ["市辖区组", "驿城区政府", "1013件", "8件"],
        ["", "经济开发区管委会", "503件", "6件"],
    ]
    rows = page_rows("a" * 64, "b1", page)["page_tables"]
    assert [(r["row_no"], r["header"], r["text"], r["source"]) for r in rows if r["column_no"] in (1, 3)] == [
        (1, "组", "市辖区组", "line 4"),
        (1, "交办件", "1013件", "line 4"),
        (2, "组", "", None),  # covered by 市辖区组's span: no cell of its own
        (2, "交办件", "503件", "line 5"),
    ]
