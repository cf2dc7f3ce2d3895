"""The SQL layer's machinery: seeds, build order, comments, data tests, idempotence."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from testdata import build_models, insert_rows, load_timeline

from flows.parsing.formats.zhumadian_weekly import ZhumadianWeekly
from flows.settings import SQL_DIR
from flows.warehouse import build, datatests, db, models, seeds


@pytest.fixture(scope="module")
def built_timeline() -> Iterator[duckdb.DuckDBPyConnection]:
    """The golden timeline (testdata.TIMELINE) with the models built, once for the module."""
    con = db.connect(None)
    try:
        load_timeline(con)
        with db.transaction(con):
            build_models(con)
        yield con
    finally:
        con.close()


@pytest.fixture
def timeline(built_timeline: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """This module's `timeline` (conftest's, built once): what a test changes is rolled back after it."""
    built_timeline.execute("begin transaction").fetchall()
    try:
        yield built_timeline
    finally:
        built_timeline.execute("rollback").fetchall()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ seeds


def test_real_seed_maps_the_known_variants(con: duckdb.DuckDBPyConnection) -> None:
    db.create_raw_tables(con)
    seeds.load_seeds(con)
    sanmenxia = dict(
        con.execute("select alias_key, canonical from seeds.unit_aliases where city = '三门峡'").fetchall()
    )
    assert sanmenxia == {"一支": "一支队", "一支队": "一支队"}  # 一支 as its 2021第7期 report prints it
    mapping = dict(con.execute("select alias_key, canonical from seeds.unit_aliases where city = '驻马店'").fetchall())
    assert mapping["驿城区人民政府"] == "驿城区政府"
    assert mapping["电信驻马店分公司"] == "中国电信驻马店分公司"
    assert mapping["驻马店电信分公司"] == "中国电信驻马店分公司"
    assert mapping["联通驻马店分公司"] == "中国联通驻马店分公司"
    assert mapping["中国移动驻马店分公司"] == "河南移动驻马店分公司"
    assert mapping["移动驻马店分公司"] == "河南移动驻马店分公司"
    assert mapping["市产业集聚区"] == "高新技术产业开发区"
    assert mapping["驻马店经济开发区管委会"] == "经济开发区管委会"
    sample_names = [
        "驿城区政府", "经济开发区管委会", "市城乡一体化示范区管委会", "中国电信驻马店分公司",
        "中一市政建设管理有限公司", "市豫资市政设施管理有限公司", "河南移动驻马店分公司",
        "国电驻马店热电有限公司", "中国联通驻马店分公司",
    ]  # fmt: skip
    for name in sample_names:
        assert mapping[name] == name, "a canonical name maps to itself"
    for canonical in set(mapping.values()):
        assert mapping[canonical] == canonical, "no chains left"


def test_seed_folds_width_and_spaces_and_resolves_chains(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(
        tmp_path / "seeds" / "unit_aliases.csv",
        "\ufeffcity,alias,canonical\n"
        "驻马店,驿城区 人民政府,驿城区政府\n"
        "驻马店,ＡＢＣ　公司,甲 公司\n"
        "\n"
        "驻马店,驿城区人民政府,驿城区政府\n"  # the same mapping twice is fine
        "驻马店,老名,旧名\n"
        "驻马店,旧名,新名\n"
        # a city's names are its own: the same spelling may mean another unit elsewhere,
        # and a chain does not run through another city's aliases
        "三门峡,老名,一支队\n"
        "三门峡,旧名,二支队\n",
    )
    seeds.load_seeds(con, tmp_path)
    rows = con.execute("select city, alias_key, canonical from seeds.unit_aliases").fetchall()
    assert sorted(rows) == sorted(
        [
            ("驻马店", "驿城区人民政府", "驿城区政府"),
            ("驻马店", "驿城区政府", "驿城区政府"),
            ("驻马店", "ABC公司", "甲公司"),
            ("驻马店", "甲公司", "甲公司"),
            ("驻马店", "老名", "新名"),
            ("驻马店", "旧名", "新名"),
            ("驻马店", "新名", "新名"),
            ("三门峡", "老名", "一支队"),
            ("三门峡", "一支队", "一支队"),
            ("三门峡", "旧名", "二支队"),
            ("三门峡", "二支队", "二支队"),
        ]
    )


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        (
            "city,alias,canonical\n驻马店,电信驻马店分公司,中国电信驻马店分公司\n驻马店,电信 驻马店分公司,中国联通驻马店分公司\n",
            "电信 驻马店分公司",
        ),
        ("city,alias,canonical\n驻马店,甲,乙\n驻马店,乙,甲\n", "cycle"),
        ("alias,canonical\n甲,乙\n", "header"),
        ("city,alias,canonical\n驻马店,甲,\n", "city, alias and canonical are all needed"),
        ("city,alias,canonical\n,甲,乙\n", "city, alias and canonical are all needed"),
        ("city,alias,canonical\n驻马店市,甲,乙\n", "no bulletin format publishes city '驻马店市'"),
    ],
)
def test_bad_seed_raises(con: duckdb.DuckDBPyConnection, tmp_path: Path, csv_text: str, message: str) -> None:
    write(tmp_path / "seeds" / "unit_aliases.csv", csv_text)
    with pytest.raises(ValueError, match=message):
        seeds.load_seeds(con, tmp_path)


# ------------------------------------------------------------------ build order


def test_build_order_respects_layers_and_dependencies() -> None:
    order = [m.relation for m in models.discover_models()]
    assert order.index("marts.unit_week_performance") < order.index("marts.city_week_performance")
    layers = [r.split(".")[0] for r in order]
    assert layers == sorted(layers, key=list(models.LAYERS).index)
    for position, model in enumerate(models.discover_models()):
        for ref in model.refs:
            assert order.index(ref) < position, f"{model.relation} reads {ref} before it is built"


def test_new_model_files_are_ordered_by_their_references(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    shutil.copytree(SQL_DIR, tmp_path, dirs_exist_ok=True)
    # alphabetically first, but reads a mart built from another new core model
    write(
        tmp_path / "marts" / "aaa_top_units.sql",
        "-- grain: one row per unit\n"
        "-- unique_key: unit_name\n"
        "-- not_null: unit_name\n"
        "-- column: unit_name: canonical unit name\n"
        "-- column: weeks: published weeks on the list\n"
        "select unit_name, weeks from marts.zzz_unit_weeks\n",
    )
    write(
        tmp_path / "marts" / "zzz_unit_weeks.sql",
        "-- grain: one row per unit\n"
        "-- unique_key: unit_name\n"
        "-- not_null: unit_name\n"
        "-- column: unit_name: canonical unit name\n"
        "-- column: weeks: published weeks on the list\n"
        "select unit_name, count(*) as weeks from core.aaa_listed group by unit_name\n",
    )
    write(
        tmp_path / "core" / "aaa_listed.sql",
        "-- grain: one row per unit per week on the list\n"
        "-- unique_key: week_start, unit_name\n"
        "-- not_null: week_start, unit_name\n"
        "-- column: week_start: first day of the week\n"
        "-- column: unit_name: canonical unit name\n"
        "select week_start, unit_name from marts.unit_week_performance where on_list\n",
    )
    with pytest.raises(ValueError, match="later layer"):
        models.discover_models(tmp_path)
    write(
        tmp_path / "core" / "aaa_listed.sql",
        "-- grain: one row per unit per week on the list\n"
        "-- unique_key: week_start, unit_name\n"
        "-- not_null: week_start, unit_name\n"
        "-- column: week_start: first day of the week\n"
        "-- column: unit_name: canonical unit name\n"
        "-- (this line mentions marts.unit_week_performance in a comment: not a reference)\n"
        "-- the unit's rows ('s and quotes in comments do not hide references)\n"
        "select weeks.week_start, units.unit_name from core.bulletin_units as units\n"
        "inner join core.published_weeks as weeks on weeks.bulletin_id = units.bulletin_id\n",
    )
    order = [m.relation for m in models.discover_models(tmp_path)]
    assert order.index("core.aaa_listed") < order.index("marts.zzz_unit_weeks") < order.index("marts.aaa_top_units")
    load_timeline(con)
    build_models(con, tmp_path)
    assert con.execute("select * from marts.aaa_top_units order by unit_name").fetchall() == [
        ("中一市政建设管理有限公司", 1),
        ("中国电信驻马店分公司", 4),
        ("中国联通驻马店分公司", 1),
        ("市城乡一体化示范区管委会", 2),
        ("河南移动驻马店分公司", 2),
        ("经济开发区管委会", 2),
        ("驿城区政府", 4),
    ]


def test_cycles_and_unknown_references_raise(tmp_path: Path) -> None:
    write(tmp_path / "marts" / "a.sql", "-- grain: x\nselect * from marts.b\n")
    write(tmp_path / "marts" / "b.sql", "-- grain: x\nselect * from marts.a\n")
    with pytest.raises(ValueError, match=r"cycle: marts\.a, marts\.b"):
        models.discover_models(tmp_path)
    write(tmp_path / "marts" / "b.sql", "-- grain: x\nselect * from core.nothing_here\n")
    with pytest.raises(ValueError, match=r"core\.nothing_here"):
        models.discover_models(tmp_path)


# What models.py found with a regex before DuckDB's parser did: `schema.name` in the code
# (string literals and comments blanked out), for the schemas of the model layers.
_OLD_NOT_CODE = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.S)


def _refs_by_regex(model: models.Model) -> frozenset[str]:
    code = _OLD_NOT_CODE.sub(" ", model.select)
    found = re.findall(r"\b([A-Za-z_]\w*)\s*\.\s*([A-Za-z_]\w*)\b", code)
    return frozenset(f"{s}.{n}".lower() for s, n in found if s.lower() in models.LAYERS) - {model.relation}


def test_the_parser_finds_the_dependencies_the_regex_found() -> None:
    """Every model in sql/: the same dependency graph from DuckDB's parser as from the old regex."""
    by_parser = {m.relation: m.refs for m in models.discover_models()}
    by_regex = {m.relation: _refs_by_regex(m) for m in models.discover_models()}
    assert by_parser == by_regex
    assert len(by_parser) >= 20 and sum(map(len, by_parser.values())) >= 30  # the real tree, not an empty one


@pytest.mark.parametrize(
    ("select", "reads"),
    [
        # a CTE's name is not a relation, even where a model of that name exists
        ("with bulletins as (select * from core.bulletins) select * from bulletins", {"core.bulletins"}),
        # aliases, joins, subqueries in where and select
        (
            "select (select max(week_start) from core.published_weeks) as latest, units.unit_name\n"
            "from staging.stg_bulletin_units as units\n"
            "inner join core.bulletins as b on b.bulletin_id = units.bulletin_id\n"
            "where exists (select 1 from marts.unit_week_performance)",
            {"core.published_weeks", "staging.stg_bulletin_units", "core.bulletins", "marts.unit_week_performance"},
        ),
        # the joins DuckDB's get_table_names cannot bind: USING and NATURAL
        (
            "select * from core.bulletins join core.bulletin_units using (bulletin_id) natural join core.files",
            {"core.bulletins", "core.bulletin_units", "core.files"},
        ),
        # upper case and quotes name the same relation; the seeds and raw tables are read too
        ('select * from CORE."Bulletins" join seeds.unit_aliases on true', {"core.bulletins", "seeds.unit_aliases"}),
        # comments and string literals are text, a column's table is not a relation read
        (
            "-- reads marts.unit_week_performance? no\nselect 'core.files' as s, bulletins.city from core.bulletins",
            {"core.bulletins"},
        ),
    ],
)
def test_relations_read(select: str, reads: set[str]) -> None:
    assert models.relations_read(select) == reads


def test_a_model_duckdb_cannot_parse_is_named(tmp_path: Path) -> None:
    write(tmp_path / "marts" / "broken.sql", "-- grain: x\nselect * form core.bulletins\n")
    with pytest.raises(ValueError, match=r"broken\.sql: DuckDB cannot parse it: .*syntax error"):
        models.discover_models(tmp_path)


def test_build_needs_the_seed(con: duckdb.DuckDBPyConnection) -> None:
    db.create_raw_tables(con)
    with pytest.raises(RuntimeError, match="load_seeds"):
        models.build_models(con)


def test_format_declarations_are_a_seed(con: duckdb.DuckDBPyConnection) -> None:
    seeds.load_seeds(con)
    assert con.execute("select * from seeds.bulletin_formats order by format").fetchall() == [
        ("sanmenxia_weekly", "三门峡", True),
        ("xuchang_scorecard", "许昌", True),
        ("zhumadian_weekly", "驻马店", False),
    ]


def test_a_changed_format_declaration_rebuilds_the_models(monkeypatch: pytest.MonkeyPatch) -> None:
    before = build.models_fingerprint()
    monkeypatch.setattr(ZhumadianWeekly, "groups_are_lists", True)
    assert seeds.bulletin_formats()[-1] == ("zhumadian_weekly", "驻马店", True)
    assert build.models_fingerprint() != before


def test_a_format_no_class_declares_fails_a_data_test(timeline: duckdb.DuckDBPyConnection) -> None:
    """Its units have no list (NULL, never a guessed default), so a not_null test fails."""
    timeline.execute("update raw.bulletins set format = 'retired_weekly'").fetchall()
    build_models(timeline)
    failures = {f.name: f for f in datatests.run_data_tests(timeline)}
    assert "core.bulletin_units__not_null" in failures


# ------------------------------------------------------------------ comments and docs


def test_every_core_and_mart_relation_and_column_has_a_comment(timeline: duckdb.DuckDBPyConnection) -> None:
    columns = timeline.execute(
        "select schema_name, table_name, column_name, comment from duckdb_columns() "
        "where schema_name in ('core', 'marts')"
    ).fetchall()
    relations = {f"{s}.{t}" for s, t, _, _ in columns}
    assert {"core.articles", "core.bulletins", "core.bulletin_units", "marts.unit_week_performance",
            "marts.city_week_performance"} <= relations  # fmt: skip
    assert [c for c in columns if not c[3]] == []
    commented = timeline.execute(
        "select schema_name || '.' || view_name, comment from duckdb_views() where schema_name in ('core', 'marts') "
        "union all "
        "select schema_name || '.' || table_name, comment from duckdb_tables() where schema_name in ('core', 'marts')"
    ).fetchall()
    assert {name for name, _ in commented} == relations
    assert [name for name, comment in commented if not comment or "Grain:" not in comment] == []


def test_model_docs_agree_with_the_relations(timeline: duckdb.DuckDBPyConnection) -> None:
    docs = models.model_docs()
    actual: dict[str, dict[str, str]] = {}
    for schema, table, column, comment in timeline.execute(
        "select schema_name, table_name, column_name, comment from duckdb_columns() "
        "where schema_name in ('core', 'marts') order by schema_name, table_name, column_index"
    ).fetchall():
        actual.setdefault(f"{schema}.{table}", {})[column] = comment
    assert docs == actual


MART_NAMES = ("marts.unit_week_performance", "marts.city_week_performance")


def test_the_issue_columns_exist() -> None:
    docs = models.model_docs()
    required = {
        "core.articles": "file_sha256 seq section kind kicker title subtitle reporters correspondents "
        "photographers authors event_date body editor_code issue_date line_start line_end",
        "core.bulletins": "bulletin_id file_sha256 issue_date period_start period_end received due closed "
        "in_progress overdue disputed closure_rate_published linked_units overdue_units as_of failed_checks "
        "passes_checks superseded line_start line_end",
        "core.bulletin_units": "bulletin_id period_start unit_group unit_name_raw unit_name dispatched "
        "unresolved row_no line_no file_sha256",
        "marts.unit_week_performance": "week_start week_end unit_name unit_group on_list dispatched unresolved "
        "unresolved_rate prev_week_published prev_on_list prev_dispatched prev_unresolved unresolved_change "
        "unresolved_rate_change_pp weeks_on_list_streak list_change rank_in_group",
        "marts.city_week_performance": "week_start week_end received due closed in_progress overdue disputed "
        "closure_rate closure_rate_published prev_closure_rate closure_rate_change_pp overdue_change "
        "disputed_change units_on_list units_entered units_left top3_overdue_share prev_week_published",
    }
    # issue 11: the city dimension, the publisher's period label, the unit's printed rate
    for relation in ("core.bulletins", "core.bulletin_units", "core.published_weeks", *MART_NAMES):
        required[relation] = required.get(relation, "") + " city period_label"
    required["core.bulletin_units"] += " closed closure_rate_published unit_list"
    # a unit is followed within its list, not its printed group (Zhumadian's groups are one list)
    required["marts.unit_week_performance"] += " unit_list prev_unit_group"
    for relation, names in required.items():
        missing = [n for n in names.split() if n not in docs[relation]]
        assert missing == [], relation
    for relation in ("core.articles", "core.bulletins", "core.bulletin_units"):
        # the first issue's columns come first, in its order
        names = required[relation].split()
        names = names[: names.index("city")] if "city" in names else names
        assert list(docs[relation])[: len(names)] == names


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("-- grain: x\n-- column: a: the a\n", "without a '-- column:' doc: b"),
        (
            "-- grain: x\n-- column: a: the a\n-- column: b: the b\n-- column: c: the c\n",
            "not produced by the model: c",
        ),
        ("-- column: a: the a\n-- column: b: the b\n", "grain"),
        ("-- grain: x\n-- column: a: the a\n-- column: b: the b\n", "no '-- unique_key:' line"),
        (
            "-- grain: x\n-- unique_key: a\n-- not_null: a, z\n-- column: a: the a\n-- column: b: the b\n",
            "names columns the model lacks: z",
        ),
        (
            "-- grain: x\n-- unique_key: a, b\n-- not_null: a\n-- column: a: the a\n-- column: b: the b\n",
            "must also be listed in '-- not_null:': b",
        ),
    ],
)
def test_docs_must_match_the_columns(con: duckdb.DuckDBPyConnection, tmp_path: Path, header: str, message: str) -> None:
    shutil.copytree(SQL_DIR, tmp_path, dirs_exist_ok=True)
    write(tmp_path / "marts" / "two_columns.sql", header + "select 1 as a, 2 as b\n")
    db.create_raw_tables(con)
    with pytest.raises(ValueError, match=message):
        build_models(con, tmp_path)


def test_header_continuation_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "marts" / "m.sql",
        "-- grain: one row per\n--   unit\n-- unique_key: a\n-- not_null: a,\n--   b\n"
        "-- column: a: first part\n--   second part\n-- a plain comment\nselect 1 as a, 2 as b\n",
    )
    model = models.parse_model("marts", path)
    assert model.grain == "one row per unit"
    assert model.columns == {"a": "first part second part"}
    assert (model.unique_key, model.not_null) == (("a",), ("a", "b"))


def test_materialized_header_makes_a_table_and_an_older_view_is_replaced(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    shutil.copytree(SQL_DIR, tmp_path, dirs_exist_ok=True)
    model = tmp_path / "core" / "published_weeks.sql"
    as_table = model.read_text(encoding="utf-8")
    assert "-- materialized: table\n" in as_table
    load_timeline(con)

    def kinds() -> dict[str, str]:
        rows = con.execute(
            "select 'table', table_name from duckdb_tables() where schema_name = 'core' "
            "union all select 'view', view_name from duckdb_views() where schema_name = 'core'"
        ).fetchall()
        return {name: kind for kind, name in rows}

    model.write_text(as_table.replace("-- materialized: table\n", ""), encoding="utf-8")  # a warehouse of before
    build_models(con, tmp_path)
    assert kinds()["published_weeks"] == "view"
    expected = sorted(con.execute("select * from marts.city_week_performance").fetchall(), key=repr)
    model.write_text(as_table, encoding="utf-8")
    build_models(con, tmp_path)
    assert kinds()["published_weeks"] == "table"
    assert kinds()["articles"] == "view"  # no header: its layer's kind
    assert sorted(con.execute("select * from marts.city_week_performance").fetchall(), key=repr) == expected
    assert (
        "Grain:"
        in con.execute(
            "select comment from duckdb_tables() where schema_name = 'core' and table_name = 'published_weeks'"
        ).fetchall()[0][0]
    )
    model.write_text(as_table.replace("-- materialized: table", "-- materialized: view"), encoding="utf-8")
    build_models(con, tmp_path)
    assert kinds()["published_weeks"] == "view"
    model.write_text(as_table.replace("-- materialized: table", "-- materialized: index"), encoding="utf-8")
    with pytest.raises(ValueError, match="materialized:' must be one of table, view, got 'index'"):
        models.discover_models(tmp_path)


# ------------------------------------------------------------------ data tests


def _replace_view(relation: str, select_from_copy: str) -> list[str]:
    """Statements that swap a view for `select_from_copy` over a table copy of its rows (`copy`)."""
    copy = f"{relation}_copy"
    return [
        f"create table {copy} as select * from {relation}",
        f"create or replace view {relation} as {select_from_copy.format(copy=copy)}",
    ]


def _is_table(relation: str) -> bool:
    return next(m.kind for m in models.discover_models() if m.relation == relation) == "table"


def _duplicate_a_row(relation: str) -> list[str]:
    if _is_table(relation):
        return [f"insert into {relation} select * from {relation} limit 1"]
    return _replace_view(relation, "select * from {copy} union all (select * from {copy} limit 1)")


def _null_in(relation: str, column: str) -> list[str]:
    if _is_table(relation):
        return [f"update {relation} set {column} = null where rowid = (select min(rowid) from {relation})"]
    return _replace_view(
        relation,
        f"select * replace (case when row_number() over () = 1 then null else {column} end as {column}) from {{copy}}",
    )


# The golden timeline has bulletins only: one article of a loaded file.
ARTICLE = (
    "insert into raw.articles (file_sha256, seq, kind, reporters, correspondents, photographers, authors, "
    "body, original_text, line_start, line_end, batch_id) "
    "select file_sha256, 1, 'news', [], [], [], [], '正文。', '正文。', 1, 2, batch_id "
    "from ingest.files where status = 'loaded' limit 1"
)

# The golden timeline has no page tables: one cell of a loaded file's table.
TABLE_CELL = (
    "insert into raw.page_tables select file_sha256, 1, 'pipe', 1, 1, '部门', '一支队', null, 3, null, batch_id "
    "from ingest.files where status = 'loaded' limit 1"
)

# The golden timeline breaks no warehouse rule: a bulletin listing one unit twice (an alias).
UNIT_TWICE = (
    "insert into raw.bulletin_units by name select * replace ('驿城区人民政府' as unit_name_raw, "
    "'驿城区人民政府' as unit_name_key, row_no + 100 as row_no) "
    "from raw.bulletin_units where unit_name_raw = '驿城区政府' limit 1"
)

# Rebuild the models here (raw rows changed above; the tables among the models hold the old ones).
REBUILD = "rebuild the models"

# The golden timeline has no correction on record: a3's failed check accepted.
ACCEPTED = (
    "insert into ingest.corrections values ('d/1', 'd', 'accept', rpad('a3', 64, '0'), '2020-12-29.txt', "
    "'units_sum_to_overdue', 'checked', '张三', timestamptz '2026-12-04 08:00:00+00')"
)

# The golden timeline has weeks only: a month's scorecard (Xuchang's) in a1's file, 3 units.
SCORECARD = [
    "insert into raw.bulletins by name select * replace ('a100000000000000-2' as bulletin_id, 2 as seq, "
    "'xuchang_scorecard' as format, '许昌' as city, 'month' as period_kind, date '2020-11-01' as period_start, "
    "date '2020-11-30' as period_end) from raw.bulletins where bulletin_id = 'a100000000000000-1'",
    "insert into raw.bulletin_scores select 'a100000000000000-2', rpad('a1', 64, '0'), '县、市组', name, name, "
    "score, null, rank, list, false, row_no, 10 + row_no, 'b1' from (values ('甲区', 99.5, 1, 'none', 1), "
    "('乙区', 98, 2, 'none', 2), ('丙局', 50, null, 'bad', 3)) as t(name, score, rank, list, row_no)",
    REBUILD,
]

# Each data test with a change to the golden timeline that breaks its rule.
VIOLATIONS: dict[str, list[str]] = {
    "core.bulletin_scores__unique_key": [*SCORECARD, *_duplicate_a_row("core.bulletin_scores")],
    "core.bulletin_scores__not_null": [*SCORECARD, *_null_in("core.bulletin_scores", "unit_name")],
    "marts.unit_period_scores__unique_key": [*SCORECARD, *_duplicate_a_row("marts.unit_period_scores")],
    "marts.unit_period_scores__not_null": [*SCORECARD, *_null_in("marts.unit_period_scores", "bulletin_id")],
    "unit_period_scores_ranks_follow_scores": [
        *SCORECARD,
        "update marts.unit_period_scores set rank = 3 where unit_name = '甲区'",
    ],
    "unit_period_scores_no_data_is_not_a_score": [
        *SCORECARD,
        "update marts.unit_period_scores set no_data = true where unit_name = '甲区'",
    ],
    "unit_period_scores_streaks_add_up": [
        *SCORECARD,
        "update marts.unit_period_scores set bad_list_streak = 2 where unit_name = '丙局'",
    ],
    "core.bulletin_acceptances__unique_key": [ACCEPTED, REBUILD, *_duplicate_a_row("core.bulletin_acceptances")],
    "core.bulletin_acceptances__not_null": [ACCEPTED, REBUILD, *_null_in("core.bulletin_acceptances", "note")],
    "core.failed_weeks__unique_key": _duplicate_a_row("core.failed_weeks"),
    "core.failed_weeks__not_null": _null_in("core.failed_weeks", "failed_checks"),
    "core.bulletin_checks__unique_key": [UNIT_TWICE, REBUILD, *_duplicate_a_row("core.bulletin_checks")],
    "core.bulletin_checks__not_null": [UNIT_TWICE, REBUILD, *_null_in("core.bulletin_checks", "detail")],
    "core.files__unique_key": _duplicate_a_row("core.files"),
    "core.files__not_null": _null_in("core.files", "status"),
    # a path recorded in ingest.files with no row of state: never reported anywhere
    "files_one_row_per_path": ["delete from core.files where path = (select min(path) from core.files)"],
    "core.batches__unique_key": _duplicate_a_row("core.batches"),
    "core.batches__not_null": _null_in("core.batches", "status"),
    "published_weeks_do_not_overlap": [
        "insert into core.published_weeks select * replace (week_start + 3 as week_start, "
        "bulletin_id || 'x' as bulletin_id) from core.published_weeks limit 1",
    ],
    "core.page_tables__unique_key": [TABLE_CELL, *_duplicate_a_row("core.page_tables")],
    "core.page_tables__not_null": [TABLE_CELL, *_null_in("core.page_tables", "text")],
    "core.articles__unique_key": [ARTICLE, *_duplicate_a_row("core.articles")],
    "core.articles__not_null": [ARTICLE, *_null_in("core.articles", "body")],
    "core.bulletins__unique_key": _duplicate_a_row("core.bulletins"),
    "core.bulletins__not_null": _null_in("core.bulletins", "superseded"),
    "core.bulletin_units__unique_key": _duplicate_a_row("core.bulletin_units"),
    "core.bulletin_units__not_null": _null_in("core.bulletin_units", "unit_name"),
    "core.published_weeks__unique_key": _duplicate_a_row("core.published_weeks"),
    "core.published_weeks__not_null": _null_in("core.published_weeks", "bulletin_id"),
    "marts.unit_week_performance__unique_key": _duplicate_a_row("marts.unit_week_performance"),
    "marts.unit_week_performance__not_null": [
        "update marts.unit_week_performance set prev_week_published = null where unit_name = '驿城区政府'",
    ],
    "marts.city_week_performance__unique_key": _duplicate_a_row("marts.city_week_performance"),
    "marts.city_week_performance__not_null": [
        "update marts.city_week_performance set bulletin_id = null where week_start = date '2020-12-14'",
        "update marts.city_week_performance set prev_week_status = null where week_start = date '2021-01-04'",
    ],
    "unit_week_unresolved_within_dispatched": [
        "update marts.unit_week_performance set unresolved = dispatched + 1 "
        "where unit_name = '河南移动驻马店分公司' and week_start = date '2020-12-14'",
    ],
    "unit_week_names_canonical": [
        "update marts.unit_week_performance set unit_name = '驿城区人民政府' "
        "where unit_name = '驿城区政府' and week_start = date '2020-12-07'",
        "update marts.unit_week_performance set unit_name = '' where unit_name = '中国联通驻马店分公司'",
    ],
    "unit_week_list_matches_overdue_units": [
        "delete from marts.unit_week_performance where unit_name = '中一市政建设管理有限公司'",
    ],
    "city_week_cases_add_up": [
        "update marts.city_week_performance set disputed = disputed + 1 where week_start = date '2020-12-14'",
        "update marts.city_week_performance set disputed = null where week_start = date '2020-12-14'",
    ],
}


def test_data_tests_pass_on_the_golden_data(timeline: duckdb.DuckDBPyConnection) -> None:
    assert datatests.run_data_tests(timeline) == []


def test_every_data_test_has_a_violation_case() -> None:
    assert sorted(VIOLATIONS) == [t.name for t in datatests.data_tests()]


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_data_test_catches_its_violation(timeline: duckdb.DuckDBPyConnection, name: str) -> None:
    for statement in VIOLATIONS[name]:
        if statement == REBUILD:
            build_models(timeline)
        else:
            timeline.execute(statement).fetchall()
    failures = {f.name: f for f in datatests.run_data_tests(timeline)}
    assert name in failures
    failure = failures[name]
    assert failure.failing_row_count >= 1
    assert 1 <= len(failure.sample_rows) <= 5
    assert name in str(failure)


def test_failure_samples_at_most_five_rows(timeline: duckdb.DuckDBPyConnection) -> None:
    timeline.execute("update marts.unit_week_performance set unresolved = coalesce(dispatched, 0) + 1").fetchall()
    failures = {f.name: f for f in datatests.run_data_tests(timeline)}
    failure = failures["unit_week_unresolved_within_dispatched"]
    assert failure.failing_row_count == 16  # the on-list rows
    assert len(failure.sample_rows) == 5
    assert set(failure.sample_rows[0]) == {
        "city",
        "week_start",
        "unit_list",
        "unit_group",
        "unit_name",
        "dispatched",
        "unresolved",
    }


# ------------------------------------------------------------------ idempotence and transactions


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    relations = [
        r[0]
        for r in con.execute(
            "select distinct schema_name || '.' || table_name from duckdb_columns() "
            "where schema_name in ('seeds', 'staging', 'core', 'marts') order by 1"
        ).fetchall()
    ]
    return {r: sorted(con.execute(f"select * from {r}").fetchall(), key=repr) for r in relations}


def test_building_twice_changes_nothing(tmp_path: Path) -> None:
    con = db.connect(tmp_path / "bulletins.duckdb")
    try:
        load_timeline(con)
        first_built = build_models(con)
        first = snapshot(con)
        assert build_models(con) == first_built
        assert snapshot(con) == first
        assert datatests.run_data_tests(con) == []
    finally:
        con.close()
    con = db.connect(tmp_path / "bulletins.duckdb", read_only=True)
    try:
        assert snapshot(con) == first
    finally:
        con.close()


def test_build_runs_in_the_callers_transaction(con: duckdb.DuckDBPyConnection) -> None:
    load_timeline(con)
    con.execute("begin transaction").fetchall()
    build_models(con)
    assert con.execute("select count(*) from marts.city_week_performance").fetchall() == [(4,)]
    con.execute("rollback").fetchall()
    assert con.execute("select count(*) from duckdb_tables() where schema_name in ('seeds', 'marts')").fetchall() == [
        (0,)
    ]
    con.execute("begin transaction").fetchall()
    build_models(con)
    assert datatests.run_data_tests(con) == []
    con.execute("commit").fetchall()
    assert con.execute("select count(*) from marts.unit_week_performance").fetchall() == [(18,)]


def test_core_articles_come_from_taken_files_once(con: duckdb.DuckDBPyConnection) -> None:
    load_timeline(con)
    article = {
        "seq": 1, "section": "时政要闻", "kind": "news", "kicker": None, "title": "标题", "subtitle": None,
        "reporters": ["黄育南"], "correspondents": [], "photographers": [], "authors": [],
        "event_date": "2021-01-11", "body": "正文。", "editor_code": "②6", "original_text": "标题\n正文。",
        "line_start": 3, "line_end": 5,
    }  # fmt: skip
    sha = {n: f"a{n}".ljust(64, "0") for n in (3, 6)}
    insert_rows(
        con,
        "raw.articles",
        [
            {**article, "file_sha256": sha[6], "batch_id": "b6"},
            {**article, "file_sha256": sha[6], "batch_id": "b6-again"},  # the duplicate's rows
            {**article, "file_sha256": sha[3], "batch_id": "b3"},  # a partial file's articles load
            {**article, "file_sha256": "ee".ljust(64, "0"), "batch_id": "b8"},  # quarantined: never
            {**article, "file_sha256": "ff".ljust(64, "0"), "batch_id": "b9"},  # no ingest.files row
        ],
    )
    build_models(con)
    rows = con.execute(
        "select file_sha256, seq, issue_date, reporters, editor_code from core.articles order by file_sha256"
    ).fetchall()
    assert rows == [
        (sha[3], 1, date(2020, 12, 29), ["黄育南"], "②6"),
        (sha[6], 1, date(2021, 1, 12), ["黄育南"], "②6"),
    ]
