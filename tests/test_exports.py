"""Exports people open (xlsx, csv with a BOM, parquet), the marts' Parquet copy in the lake, and query input/output."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import zipfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from hostile_names import FORMULA_NAMES, build_hostile_warehouse
from pipeline_helpers import copy_bundled, make_inbox
from typer.testing import CliRunner

from flows.cli import app
from flows.reporting.exports import column_width, display_width, for_people, write_csv, write_xlsx
from flows.reporting.labels import COLUMN_LABELS, COLUMNS
from flows.warehouse import build, lake, lake_audit
from flows.warehouse.db import connection
from flows.warehouse.readers.export import MART_ORDER, mart_rows

runner = CliRunner()
MARTS = list(MART_ORDER)


@pytest.fixture(scope="module")
def bundled(bundled_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_bundled(bundled_template, tmp_path_factory.mktemp("exports"))


def marts(db: Path, week: dt.date | None = None) -> dict[str, tuple[list[str], list[tuple]]]:
    with connection(db, read_only=True) as con:
        return {t: mart_rows(con, t, None, week) for t in MARTS}


def shown(db: Path, week: dt.date | None = None, all_columns: bool = False) -> dict[str, tuple[list[str], list[tuple]]]:
    """What xlsx and CSV hold: the analyst's columns (or all), values in Chinese."""
    return {t: for_people(columns, rows, all_columns) for t, (columns, rows) in marts(db, week).items()}


def export(db: Path, *args: str) -> list[Path]:
    result = runner.invoke(app, ["export", "--warehouse", str(db.parent), *args])
    assert result.exit_code == 0, result.output
    return [Path(line) for line in result.stdout.splitlines()]


def test_every_mart_column_has_a_chinese_label(bundled: Path) -> None:
    for columns, _ in marts(bundled).values():
        assert [c for c in columns if c not in COLUMN_LABELS] == []


def test_xlsx_read_back_equals_the_mart_rows(bundled: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    [path] = export(bundled, "--format", "xlsx", "--out", str(tmp_path))
    assert path == tmp_path / "bulletins-marts.xlsx"
    book = load_workbook(path)
    assert book.sheetnames == ["城市周表现", "单位周表现"]
    expected = shown(bundled)
    for sheet, table in zip(book.worksheets, MARTS, strict=True):
        columns, rows = expected[table]
        values = list(sheet.iter_rows(values_only=True))
        assert list(values[0]) == [COLUMN_LABELS[c] for c in columns]
        assert values[0][columns.index("unresolved" if "unresolved" in columns else "overdue")] in {
            "未办结件",
            "超时未办结",
        }
        back = [
            tuple(v.date() if isinstance(v, dt.datetime) else v for v in row) for row in values[1:]
        ]  # Excel cells hold datetimes
        assert len(back) == len(rows) > 0
        for got, want in zip(back, rows, strict=True):
            for g, w in zip(got, want, strict=True):
                assert g == pytest.approx(w) if isinstance(w, float) else g == w
    # Rates show as percentages, the cell keeps the mart's value.
    city = book["城市周表现"]
    rate_col = expected["city_week_performance"][0].index("closure_rate") + 1
    assert city.cell(row=2, column=rate_col).number_format == "0.00%"
    assert city.cell(row=2, column=rate_col).value == pytest.approx(0.905926454837558)


def test_csv_opens_with_a_bom_and_holds_the_mart_rows(bundled: Path, tmp_path: Path) -> None:
    paths = export(bundled, "--format", "csv", "--out", str(tmp_path), "--week", "2021-01-20")
    assert [p.name for p in paths] == ["city_week_performance-2021-01-18.csv", "unit_week_performance-2021-01-18.csv"]
    expected = shown(bundled, dt.date(2021, 1, 20))
    for path, table in zip(paths, MARTS, strict=True):
        assert path.read_bytes().startswith(b"\xef\xbb\xbf" + '"城市",'.encode())  # text is quoted
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header, *rows = list(csv.reader(handle))
        columns, mart = expected[table]
        assert header == [COLUMN_LABELS[c] for c in columns]
        as_text = [["" if v is None else str(v) for v in row] for row in mart]
        assert rows == as_text and len(rows) > 0
    assert {row[1] for row in as_text} == {"2021-01-18"}


def test_xlsx_for_excel_and_wps_chinese_values_analyst_columns_widths_filter(bundled: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    [path] = export(bundled, "--format", "xlsx", "--out", str(tmp_path))
    units = load_workbook(path)["单位周表现"]
    header = [c.value for c in units[1]]
    # Internal columns stay out; the analyst's are there, in the mart's order.
    for internal in (
        "榜单",
        "期号",
        "上周交办件",
        "上周未办结件",
        "上周上榜",
        "上周分组",
        "上周组内排名",
        "上周已发布",
    ):
        assert internal not in header
    assert header[:3] == ["城市", "周起始日", "周截止日"] and "上榜变化" in header and "本周上榜" in header
    values = [[c.value for c in row] for row in units.iter_rows(min_row=2)]
    assert {row[header.index("上榜变化")] for row in values} == {"新上榜", "连续上榜", "退出", None}
    assert {row[header.index("本周上榜")] for row in values} == {"是", "否"}
    assert {row[header.index("零办结")] for row in values} <= {"是", "否"}
    assert not {"entered", "stayed", "left", True, False} & {
        v for row in values for v in row if isinstance(v, str | bool)
    }
    # Autofilter over the whole table, the header row frozen.
    assert units.auto_filter.ref == f"A1:{units.cell(row=1, column=len(header)).column_letter}{units.max_row}"
    assert units.freeze_panes == "A2"
    # The unit column fits the longest name (CJK characters count double), not 12.
    longest = max(display_width(row[header.index("单位")]) for row in values)
    unit_width = units.column_dimensions[units.cell(row=1, column=header.index("单位") + 1).column_letter].width
    assert longest > 20 and unit_width == min(60, longest + 2)


def test_all_columns_and_english_headers(bundled: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    [path] = export(bundled, "--format", "xlsx", "--out", str(tmp_path), "--all-columns", "--headers", "en")
    expected = marts(bundled)
    for sheet, table in zip(load_workbook(path).worksheets, MARTS, strict=True):
        assert [c.value for c in sheet[1]] == expected[table][0]  # every column, by its own name
    units = load_workbook(path)["单位周表现"]
    header = [c.value for c in units[1]]
    statuses = {row[header.index("prev_week_published")].value for row in units.iter_rows(min_row=2)}
    assert statuses == {"是", "否"}  # the values stay in Chinese
    paths = export(bundled, "--format", "csv", "--out", str(tmp_path / "csv"), "--headers", "en")
    with paths[1].open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == [c for c in expected["unit_week_performance"][0] if COLUMNS[c].analyst]
    bad = runner.invoke(app, ["export", "--warehouse", str(bundled.parent), "--headers", "fr"])
    assert (bad.exit_code, bad.output) == (
        2,
        "error: Invalid value for --headers: must be zh or en, not 'fr' (see `root export --help`)\n",
    )


def test_every_mart_column_says_whether_analysts_get_it(bundled: Path) -> None:
    # Data-driven: the flag next to the label decides; a column without a label is shown, never hidden unseen.
    from flows.reporting.exports import exported_columns

    columns, _ = marts(bundled)["unit_week_performance"]
    assert exported_columns(columns) == [c for c in columns if COLUMNS[c].analyst]
    assert exported_columns([*columns, "score_new_mart"])[-1] == "score_new_mart"
    assert exported_columns(columns, all_columns=True) == columns


def test_column_width_counts_cjk_double_and_is_bounded() -> None:
    assert display_width("驻马店市城市管理局") == 18 and display_width("abc") == 3
    assert column_width("单位", ["驻马店市城市管理局"]) == 20
    assert column_width("单位", ["x" * 200]) == 60 and column_width("a", [1]) == 8
    assert column_width("未办结率", [0.8714285714285714], "0.00%") == 12


# --------------------------------------------------------------------------- no cell becomes a formula

# What a page can print as a unit name, and what the writers may be handed besides.
FORMULA_TEXT = [*FORMULA_NAMES, "\t=x", "\r=x"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hostile_warehouse(tmp_path_factory.mktemp("hostile") / "wh" / "bulletins.duckdb")


def sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as book:
        return "".join(book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/sheet"))


def test_xlsx_unit_names_like_formulas_are_text_cells(hostile: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    [path] = export(hostile, "--format", "xlsx", "--out", str(tmp_path))
    assert "<f>" not in sheet_xml(path) and "<f " not in sheet_xml(path)
    sheet = load_workbook(path)["单位周表现"]
    header = [c.value for c in sheet[1]]
    names = {row[header.index("单位")].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(FORMULA_NAMES) <= set(names)
    for name in FORMULA_NAMES:
        cell = names[name][header.index("单位")]
        assert (cell.value, cell.data_type, cell.quotePrefix) == (name, "s", True)
        dispatched = names[name][header.index("交办件")]
        assert (dispatched.value, dispatched.data_type) == (10, "n")  # numbers stay numbers


def test_xlsx_writer_keeps_formula_like_text_and_negative_numbers(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    rows = [(text, -1, -2.5) for text in FORMULA_TEXT]
    path = write_xlsx(tmp_path / "t.xlsx", [("unit_week_performance", ["unit_name", "unresolved_change", "x"], rows)])
    assert "<f>" not in sheet_xml(path) and "<f " not in sheet_xml(path)
    sheet = load_workbook(path).active
    back = [tuple(c.value for c in row) for row in sheet.iter_rows(min_row=2)]
    # (openpyxl writes a carriage return as &#13;: it reads back as itself.)
    assert back == rows
    assert {row[0].data_type for row in sheet.iter_rows(min_row=2)} == {"s"}
    assert {c.data_type for row in sheet.iter_rows(min_row=2) for c in row[1:]} == {"n"}


def test_csv_unit_names_like_formulas_are_escaped_owasp_style(hostile: Path, tmp_path: Path) -> None:
    paths = export(hostile, "--format", "csv", "--out", str(tmp_path))
    units = next(p for p in paths if p.name.startswith("unit_week_performance"))
    text = units.read_text(encoding="utf-8-sig")
    with units.open(encoding="utf-8-sig", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    names = {row[header.index("单位")] for row in rows}
    assert {f"'{n}" for n in FORMULA_NAMES} <= names
    assert not any(n in names for n in FORMULA_NAMES)
    for name in FORMULA_NAMES:
        assert f'"\'{name}"' in text  # quoted, behind a single quote
    assert ",10," in text  # numbers unquoted: still numbers


def test_csv_writer_escapes_every_formula_start_and_leaves_numbers(tmp_path: Path) -> None:
    rows = [(text, -1, -2.5, None) for text in FORMULA_TEXT]
    path = write_csv(tmp_path / "t.csv", ["unit_name", "unresolved_change", "x", "y"], rows)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        _, *back = list(csv.reader(handle))
    assert back == [[f"'{text}", "-1", "-2.5", ""] for text in FORMULA_TEXT]
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[1] == '"\'=市城管局+驿城区政府",-1,-2.5,""'


def test_parquet_export_keeps_values_and_types_with_both_names(bundled: Path, tmp_path: Path) -> None:
    expected = marts(bundled)
    for headers in ("zh", "en"):
        paths = export(bundled, "--format", "parquet", "--out", str(tmp_path / headers), "--headers", headers)
        for path, table in zip(paths, MARTS, strict=True):
            data = pq.read_table(path)
            columns, rows = expected[table]
            analyst = [c for c in columns if COLUMNS[c].analyst]
            at = [columns.index(c) for c in analyst]
            assert data.column_names == (analyst if headers == "en" else [COLUMN_LABELS[c] for c in analyst])
            assert [tuple(r.values()) for r in data.to_pylist()] == [tuple(row[i] for i in at) for row in rows]
            field = data.schema.field(1)  # week_start, a date: the mart's type
            assert (field.metadata[b"name"], field.metadata[b"label"].decode()) == (b"week_start", "周起始日")
            assert str(field.type) == "date32[day]"
    [everything, _] = export(bundled, "--format", "parquet", "--out", str(tmp_path / "all"), "--all-columns")
    assert len(pq.read_table(everything).column_names) == len(expected["city_week_performance"][0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--week", "2021-01-05"], "error: the marts hold no row for the week of 2021-01-05: nothing to export\n"),
        (["--city", "三门峡"], "error: the marts hold no row for city 三门峡: nothing to export\n"),
        (["--format", "ods"], "error: --format must be xlsx, csv or parquet\n"),
    ],
)
def test_export_errors_are_one_line(bundled: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["export", "--warehouse", str(bundled.parent), "--out", str(tmp_path), *args])
    assert (result.exit_code, result.output) == (1, message)
    assert list(tmp_path.iterdir()) == []


def test_marts_copy_in_the_lake_equals_the_warehouse_and_the_lake_ignores_it(
    bundled_template: Path, tmp_path: Path
) -> None:
    from flows.settings import Settings

    db = copy_bundled(bundled_template, tmp_path)
    lake_dir = tmp_path / "wh" / "lake"
    assert build.marts_missing_in_lake(lake_dir)
    written = build.export_marts_to_lake(db, lake_dir)
    assert written == [f"{lake_dir}/marts/{t}" for t in MARTS]  # a Delta table each
    assert not build.marts_missing_in_lake(lake_dir)
    expected = marts(db)
    for uri, table in zip(written, MARTS, strict=True):
        data = DeltaTable(uri).to_pyarrow_table()  # any Delta reader, no DuckDB file
        assert data.column_names == expected[table][0]
        assert [tuple(r.values()) for r in data.to_pylist()] == expected[table][1]
        # DuckDB without its delta extension: through the table's pyarrow dataset.
        with duckdb.connect() as con:
            con.register("mart", DeltaTable(uri).to_pyarrow_dataset())
            assert con.execute("select count(*) from mart").fetchone() == (len(expected[table][1]),)
    # The batch code does not see the folder: nothing removed, no batch from it, a rebuild as before.
    batches = lake.complete_batches(lake_dir)
    assert lake_audit.audit(lake_dir, loaded=set(batches), full=True, restore=lambda table, batch_id: None) == []
    assert all(DeltaTable.is_deltatable(u) for u in written)
    assert not (lake_dir / lake_audit.SET_ASIDE_DIR).exists()
    # A rebuild is a build: it writes the copy again (here after the copy was deleted).
    build.remove_marts_copy(lake_dir)
    result = build.rebuild_warehouse(Settings.resolve(tmp_path / "inbox", tmp_path / "wh"))
    assert (result.batches, result.problems, result.marts_not_exported) == (len(batches), [], None)
    assert marts(db) == expected
    for uri, table in zip(written, MARTS, strict=True):
        assert [tuple(r.values()) for r in DeltaTable(uri).to_pyarrow_table().to_pylist()] == expected[table][1]


def test_a_rebuild_that_cannot_write_the_marts_copy_warns_and_leaves_no_stale_copy(
    bundled_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    copy_bundled(bundled_template, tmp_path)
    lake_dir = tmp_path / "wh" / "lake"
    build.export_marts_to_lake(tmp_path / "wh" / "bulletins.duckdb", lake_dir)

    def full_disk(*args: object) -> list[Path]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build, "export_marts_to_lake", full_disk)
    result = runner.invoke(app, ["rebuild", "--warehouse", str(tmp_path / "wh")])
    assert result.exit_code == 0, result.output
    assert (
        "warning: 统计表在湖中的副本（Delta 表）未写入：OSError: [Errno 28] No space left on device\n" in result.output
    )
    assert build.marts_missing_in_lake(lake_dir) and not (lake_dir / "marts" / MARTS[0]).exists()


@pytest.mark.slow  # end to end; fast: the marts copy and the rebuild's warning above
def test_a_run_writes_the_marts_copy_and_a_failure_is_a_warning(
    prefect_harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.orchestration import flow

    inbox, wh = make_inbox(tmp_path / "inbox"), tmp_path / "wh"
    summary = flow.bulletin_etl(inbox=str(inbox), warehouse=str(wh))
    expected = marts(wh / "bulletins.duckdb")
    for table in MARTS:
        data = DeltaTable(lake.mart_uri(wh / "lake", table)).to_pyarrow_table()
        assert [tuple(r.values()) for r in data.to_pylist()] == expected[table][1]
    assert not [w for w in summary.warnings if "marts" in w]

    def full_disk(*args: object) -> list[Path]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(flow.build, "export_marts_to_lake", full_disk)
    (inbox / "2020-12-30_correction.txt").write_text(
        (inbox / "000_3e19ef32d54e8472.txt")
        .read_text(encoding="utf-8")
        .replace("超时未办结131件", "超时未办结130件")
        .replace("正在办理中232件", "正在办理中233件")
        .replace("驿城区政府\t1013件\t8件", "驿城区政府\t1013件\t7件"),
        encoding="utf-8",
    )
    state = flow.bulletin_etl(inbox=str(inbox), warehouse=str(wh), return_state=True)
    assert state.is_completed()
    summary = state.result()
    assert summary.files_loaded == 1
    assert (
        "统计表在湖中的副本（Delta 表）未写入（下次构建会重写）：OSError: [Errno 28] No space left on device"
        in summary.warnings
    )
    # No stale copy is left beside the newer warehouse; the next run writes it again.
    assert build.marts_missing_in_lake(wh / "lake")


# --------------------------------------------------------------------------- bulletins query

SQL = "select 0.9058186::double as r, 12 as units_count, null as x, 'nan'::double as f, 'a' as label_text"


def test_query_reads_sql_from_a_file_and_from_stdin(bundled: Path, tmp_path: Path) -> None:
    sql_file = tmp_path / "q.sql"
    sql_file.write_text("-- the week count\nselect count(*) as weeks from marts.city_week_performance;\n")
    wh = ["--warehouse", str(bundled.parent)]
    from_file = runner.invoke(app, ["query", "--file", str(sql_file), "-f", "csv", *wh])
    assert (from_file.exit_code, from_file.stdout) == (0, "weeks\n6\n")
    from_stdin = runner.invoke(app, ["query", "-f", "csv", *wh], input=sql_file.read_text())
    assert (from_stdin.exit_code, from_stdin.stdout) == (0, "weeks\n6\n")
    dash = runner.invoke(app, ["query", "-", "-f", "csv", *wh], input=sql_file.read_text())
    assert (dash.exit_code, dash.stdout) == (0, "weeks\n6\n")
    both = runner.invoke(app, ["query", "select 1", "--file", str(sql_file), *wh])
    assert (both.exit_code, both.output) == (1, "error: give the SQL either as an argument or with --file, not both\n")
    empty = runner.invoke(app, ["query", *wh], input="")
    assert empty.exit_code == 1 and empty.output.startswith("error: no SQL to run")


def test_query_table_view_aligns_rounds_and_shows_null(bundled: Path) -> None:
    result = runner.invoke(app, ["query", SQL, "--warehouse", str(bundled.parent)])
    assert result.exit_code == 0
    [row] = [line for line in result.stdout.splitlines() if "NULL" in line]
    cells = [c for c in row.split("│")[1:-1]]
    assert [c.strip() for c in cells] == ["0.9058", "12", "NULL", "NaN", "a"]
    # Numbers are right-aligned under their header, text left-aligned.
    assert cells[1].endswith("12 ") and cells[1].startswith("  ")
    assert cells[4].startswith(" a")


def test_query_json_never_prints_nan(bundled: Path) -> None:
    result = runner.invoke(app, ["query", SQL, "-f", "json", "--warehouse", str(bundled.parent)])
    assert result.exit_code == 0
    assert "NaN" not in result.stdout
    assert json.loads(result.stdout) == [{"r": 0.9058186, "units_count": 12, "x": None, "f": None, "label_text": "a"}]
    assert not math.isnan(0.0)  # (json.loads would have accepted NaN: the text check above is the test)
