"""The SQL layer: alias seed, models in dependency order, their comments, data tests.

Pure functions over a DuckDB connection; no Prefect here. Nothing in this module
begins or commits a transaction: the caller decides (the flow loads the lake, the seed
and the models in one transaction).

Layout under `flows.settings.SQL_DIR`:

- `seeds/unit_aliases.csv`: `city,alias,canonical`, one known spelling of a unit per line.
  (`seeds.bulletin_formats` has no file: it is written from the format classes.)
- `staging/*.sql` (views), `core/*.sql` (views), `marts/*.sql` (tables): each file holds
  one select; its name is the relation's name (`marts/unit_week_performance.sql` ->
  `marts.unit_week_performance`). A header of `--` lines documents it:

      -- grain: one row per canonical unit per published week
      -- unique_key: week_start, unit_name
      -- not_null: week_start, unit_name, on_list
      -- materialized: table  (optional: a table or a view, instead of its layer's kind)
      -- description: optional free text about the relation
      -- column: week_start: first day of the week reported
      -- column: unit_name: canonical unit name
      --     (an indented `--` line continues the entry above it)

  Core and mart models must state their grain, declare it as data (`unique_key`, whose
  columns must also be `not_null`), and document every column they produce, and nothing
  else. The runner turns the declarations into data tests (`<relation>__unique_key`,
  `<relation>__not_null`). `materialized` makes a model a table in a layer of views:
  for the small models the data tests and the marts read many times (a view is
  computed again by every query that reads it, and so is every view under it).
- `tests/*.sql`: each a query returning the rows that break a business rule; none = pass.
"""

from __future__ import annotations

import csv
import graphlib
import heapq
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from flows.parsing.formats import FORMATS
from flows.parsing.names import normalize_name
from flows.settings import SQL_DIR
from flows.warehouse import corrections
from flows.warehouse.db import relation_exists, sql_quote

# Layers in build order, and what each layer's models become.
LAYERS: dict[str, str] = {"staging": "view", "core": "view", "marts": "table"}
# What a model's `-- materialized:` line may make it instead.
MATERIALIZATIONS = ("table", "view")
# Layers whose models must document every column.
DOCUMENTED_LAYERS = ("core", "marts")

SEED_ALIASES = "seeds/unit_aliases.csv"


def _sql_dir(sql_dir: Path | None) -> Path:
    return Path(sql_dir) if sql_dir is not None else SQL_DIR


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """Execute and fully consume the result (DuckDB 2.x needs it before the next statement)."""
    return con.execute(sql, params or []).fetchall()


# --------------------------------------------------------------------------- seeds


def read_unit_aliases(path: Path) -> dict[tuple[str, str], str]:
    """Read the alias CSV into {(city, alias_key): canonical}, names folded with `normalize_name`.

    Names are a city's own: an alias maps to a canonical name of the same city. Chains
    resolve to their end within a city (a -> b, b -> c gives a -> c); every canonical
    name maps to itself. Raises ValueError on a missing header, an empty cell, a city no
    bulletin format publishes, an alias listed with two different canonicals, or a cycle.
    """
    cities = {fmt.city for fmt in FORMATS}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        if header[:3] != ["city", "alias", "canonical"]:
            raise ValueError(f"{path}: the header must start with 'city,alias,canonical', found {header!r}")
        reader.fieldnames = header
        direct: dict[tuple[str, str], tuple[str, int]] = {}
        for row in reader:
            line = reader.line_num
            city = (row.get("city") or "").strip()
            alias_raw = (row.get("alias") or "").strip()
            canonical_raw = (row.get("canonical") or "").strip()
            if not city and not alias_raw and not canonical_raw:
                continue  # blank line
            if not city or not alias_raw or not canonical_raw:
                raise ValueError(
                    f"{path}:{line}: city, alias and canonical are all needed, "
                    f"got {city!r}, {alias_raw!r}, {canonical_raw!r}"
                )
            if city not in cities:
                raise ValueError(
                    f"{path}:{line}: no bulletin format publishes city {city!r} (known: {', '.join(sorted(cities))})"
                )
            alias, canonical = (city, normalize_name(alias_raw)), normalize_name(canonical_raw)
            if alias in direct and direct[alias][0] != canonical:
                earlier, earlier_line = direct[alias]
                raise ValueError(
                    f"{path}:{line}: alias {alias_raw!r} ({city}) maps to {canonical!r} here "
                    f"but to {earlier!r} on line {earlier_line}"
                )
            direct[alias] = (canonical, line)

    resolved: dict[tuple[str, str], str] = {}
    for city, name in direct:
        seen = [name]
        target = direct[(city, name)][0]
        while (city, target) in direct and direct[(city, target)][0] != target:
            if target in seen:
                raise ValueError(f"{path}: aliases of {city} form a cycle: {' -> '.join([*seen, target])}")
            seen.append(target)
            target = direct[(city, target)][0]
        resolved[(city, name)] = target
    for city, canonical in {(city, canonical) for (city, _), canonical in resolved.items()}:
        resolved.setdefault((city, canonical), canonical)
    return resolved


def bulletin_formats() -> list[tuple[str, str, bool]]:
    """What the SQL needs to know of each bulletin format: (format, city, groups_are_lists).

    Declared once, on the format classes (`flows.parsing.formats.FORMATS`).

    >>> bulletin_formats()
    [('sanmenxia_weekly', '三门峡', True), ('xuchang_scorecard', '许昌', True), ('zhumadian_weekly', '驻马店', False)]
    """
    return sorted((fmt.name, fmt.city, bool(fmt.groups_are_lists)) for fmt in FORMATS)


def load_seeds(con: duckdb.DuckDBPyConnection, sql_dir: Path | None = None) -> int:
    """(Re)create the seeds; returns the alias count.

    `seeds.unit_aliases(city, alias_key, canonical)` from the CSV, and
    `seeds.bulletin_formats(format, city, groups_are_lists)` from the format classes.
    """
    _load_bulletin_formats(con)
    # The models read the corrections on record; a build loads them (`build`), others see none.
    corrections.ensure_table(con)
    aliases = read_unit_aliases(_sql_dir(sql_dir) / SEED_ALIASES)
    _run(con, "create schema if not exists seeds")
    _run(
        con,
        "create or replace table seeds.unit_aliases "
        "(city varchar not null, alias_key varchar not null, canonical varchar not null, primary key (city, alias_key))",
    )
    if aliases:
        rows = sorted((city, alias, canonical) for (city, alias), canonical in aliases.items())
        con.executemany("insert into seeds.unit_aliases values (?, ?, ?)", rows).fetchall()
    _run(
        con,
        f"comment on table seeds.unit_aliases is {sql_quote('unit name variants from sql/' + SEED_ALIASES + ', folded (NFKC, no whitespace), per city; every canonical name maps to itself')}",
    )
    _run(con, "comment on column seeds.unit_aliases.city is 'the city whose bulletins print the name'")
    _run(con, "comment on column seeds.unit_aliases.alias_key is 'a spelling of a unit name, folded: the join key'")
    _run(con, "comment on column seeds.unit_aliases.canonical is 'the canonical unit name it stands for'")
    return len(aliases)


def _load_bulletin_formats(con: duckdb.DuckDBPyConnection) -> None:
    _run(con, "create schema if not exists seeds")
    _run(
        con,
        "create or replace table seeds.bulletin_formats "
        "(format varchar primary key, city varchar not null, groups_are_lists boolean not null)",
    )
    con.executemany("insert into seeds.bulletin_formats values (?, ?, ?)", bulletin_formats()).fetchall()
    _run(
        con,
        "comment on table seeds.bulletin_formats is 'the bulletin formats the parser reads, as declared on their "
        "classes in flows/parsing/formats/'",
    )
    _run(con, "comment on column seeds.bulletin_formats.format is 'the format name (core.bulletins.format)'")
    _run(con, "comment on column seeds.bulletin_formats.city is 'the city whose bulletins it reads'")
    _run(
        con,
        "comment on column seeds.bulletin_formats.groups_are_lists is 'true: each unit group is a list of its own "
        "(Sanmenxia: a channel); false: the groups are parts of one list, a unit may move between them (Zhumadian)'",
    )


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Model:
    """One SQL model file."""

    layer: str
    name: str
    path: Path
    select: str  # the file's text: header comments and the select
    grain: str | None
    description: str | None
    columns: dict[str, str] = field(default_factory=dict)  # column -> description
    refs: frozenset[str] = frozenset()  # relations it reads, "schema.name"
    unique_key: tuple[str, ...] = ()  # columns that identify a row (the grain as data)
    not_null: tuple[str, ...] = ()  # columns no row may leave NULL
    materialized: str | None = None  # "table" or "view" when the header overrides the layer's kind

    @property
    def relation(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def kind(self) -> str:
        return self.materialized or LAYERS[self.layer]

    @property
    def comment(self) -> str:
        parts = [p for p in (self.description, f"Grain: {self.grain}." if self.grain else None) if p]
        return " ".join(parts)


_HEADER_ITEM = re.compile(r"^--\s?(grain|description|column|unique_key|not_null|materialized)\s*:\s*(.*)$")
_CONTINUATION = re.compile(r"^--\s{2,}(\S.*)$")
_COLUMN_ITEM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.+)$")
# String literals and comments, whichever starts first (a quote inside a comment is text).
_NOT_CODE = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.S)


def _strip_comments(sql: str) -> str:
    return _NOT_CODE.sub(" ", sql)


def _column_list(path: Path, line: str, value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.strip().strip(",").split(","))
    if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) for name in names):
        raise ValueError(f"{path}: expected a comma-separated list of column names, got {line!r}")
    return names


def parse_model(layer: str, path: Path) -> Model:
    """Read a model file: its header docs and the relations it references."""
    text = path.read_text(encoding="utf-8")
    grain: str | None = None
    description: str | None = None
    materialized: str | None = None
    columns: dict[str, str] = {}
    lists: dict[str, tuple[str, ...]] = {}  # unique_key, not_null
    last: tuple[str, str | None] | None = None  # (item, column) the next continuation extends
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if not line.startswith("--"):
            break  # the header ends at the first line of SQL
        item = _HEADER_ITEM.match(line)
        cont = _CONTINUATION.match(raw_line.lstrip()) if not item else None
        if item:
            key, value = item.group(1), item.group(2).strip()
            if key == "grain":
                grain, last = value, ("grain", None)
            elif key == "description":
                description, last = value, ("description", None)
            elif key == "materialized":
                if value not in MATERIALIZATIONS:
                    raise ValueError(
                        f"{path}: '-- materialized:' must be one of {', '.join(MATERIALIZATIONS)}, got {value!r}"
                    )
                materialized, last = value, None
            elif key in ("unique_key", "not_null"):
                if key in lists:
                    raise ValueError(f"{path}: '-- {key}:' given twice")
                lists[key], last = _column_list(path, line, value), (key, None)
            else:
                col = _COLUMN_ITEM.match(value)
                if not col:
                    raise ValueError(f"{path}: expected '-- column: name: description', got {line!r}")
                if col.group(1) in columns:
                    raise ValueError(f"{path}: column {col.group(1)!r} documented twice")
                columns[col.group(1)] = col.group(2).strip()
                last = ("column", col.group(1))
        elif cont and last is not None:
            extra = cont.group(1).strip()
            if last[0] == "grain":
                grain = f"{grain} {extra}"
            elif last[0] == "description":
                description = f"{description} {extra}"
            elif last[0] in lists:
                lists[last[0]] += _column_list(path, raw_line, extra)
            else:
                columns[last[1]] = f"{columns[last[1]]} {extra}"  # type: ignore[index]
        else:
            last = None  # a plain comment line
    unique_key, not_null = lists.get("unique_key", ()), lists.get("not_null", ())
    if set(unique_key) - set(not_null):
        missing = ", ".join(c for c in unique_key if c not in not_null)
        raise ValueError(f"{path}: unique_key columns must also be listed in '-- not_null:': {missing}")
    refs = frozenset(
        f"{schema}.{name}".lower()
        for schema, name in re.findall(r"\b([A-Za-z_]\w*)\s*\.\s*([A-Za-z_]\w*)\b", _strip_comments(text))
        if schema.lower() in LAYERS
    )
    return Model(
        layer=layer,
        name=path.stem,
        path=path,
        select=text,
        grain=grain,
        description=description,
        columns=columns,
        refs=refs - {f"{layer}.{path.stem}"},
        unique_key=unique_key,
        not_null=not_null,
        materialized=materialized,
    )


def discover_models(sql_dir: Path | None = None) -> list[Model]:
    """Every model file, in build order: by layer, then by dependencies, then by name.

    Raises ValueError when a model reads a model that does not exist, one of a later
    layer, or when models depend on each other in a cycle.
    """
    base = _sql_dir(sql_dir)
    models: dict[str, Model] = {}
    for layer in LAYERS:
        for path in sorted((base / layer).glob("*.sql")):
            model = parse_model(layer, path)
            models[model.relation] = model
    layer_index = {layer: i for i, layer in enumerate(LAYERS)}
    for model in models.values():
        for ref in model.refs:
            if ref not in models:
                raise ValueError(f"{model.path}: reads {ref}, which no file under sql/ defines")
            if layer_index[models[ref].layer] > layer_index[model.layer]:
                raise ValueError(f"{model.path}: reads {ref} from a later layer")

    # graphlib keeps the dependencies; among the models ready at each step (their
    # references built) a heap takes the earliest layer, then the name: a stable order.
    sorter = graphlib.TopologicalSorter({rel: m.refs for rel, m in models.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = sorted(set(exc.args[1]))
        raise ValueError(f"models depend on each other in a cycle: {', '.join(cycle)}") from None
    ready: list[tuple[int, str, str]] = []
    order: list[Model] = []
    while sorter.is_active():
        for rel in sorter.get_ready():
            heapq.heappush(ready, (layer_index[models[rel].layer], models[rel].name, rel))
        _, _, rel = heapq.heappop(ready)
        order.append(models[rel])
        sorter.done(rel)
    return order


def model_docs(sql_dir: Path | None = None) -> dict[str, dict[str, str]]:
    """Documented columns of the core and mart models: {relation: {column: description}}.

    >>> model_docs()["marts.city_week_performance"]["closure_rate"]  # doctest: +ELLIPSIS
    'closed / due, 0..1...'
    """
    return {m.relation: dict(m.columns) for m in discover_models(sql_dir) if m.layer in DOCUMENTED_LAYERS}


def _relation_columns(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> list[str]:
    rows = _run(
        con,
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ? order by column_index",
        [schema, name],
    )
    return [r[0] for r in rows]


def _apply_docs(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    actual = _relation_columns(con, model.layer, model.name)
    if model.layer in DOCUMENTED_LAYERS:
        if not model.grain:
            raise ValueError(f"{model.path}: no '-- grain:' line")
        unknown = [c for c in model.columns if c not in actual]
        if unknown:
            raise ValueError(f"{model.path}: documented columns not produced by the model: {', '.join(unknown)}")
        missing = [c for c in actual if c not in model.columns]
        if missing:
            raise ValueError(f"{model.path}: columns without a '-- column:' doc: {', '.join(missing)}")
        if not model.unique_key:
            raise ValueError(f"{model.path}: no '-- unique_key:' line (the grain as columns)")
    undeclared = [c for c in (*model.unique_key, *model.not_null) if c not in actual]
    if undeclared:
        raise ValueError(f"{model.path}: unique_key or not_null names columns the model lacks: {', '.join(undeclared)}")
    if model.comment:
        _run(con, f"comment on {model.kind} {model.relation} is {sql_quote(model.comment)}")
    for column, doc in model.columns.items():
        if column in actual:
            _run(con, f"comment on column {model.relation}.{column} is {sql_quote(doc)}")


def _drop_other_kind(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    """Drop the model's relation when it exists as the other kind (`create or replace` cannot change it)."""
    other = "view" if model.kind == "table" else "table"
    catalog, name_column = ("duckdb_views()", "view_name") if other == "view" else ("duckdb_tables()", "table_name")
    if _run(con, f"select 1 from {catalog} where schema_name = ? and {name_column} = ?", [model.layer, model.name]):
        _run(con, f"drop {other} {model.relation}")


def _body(select: str) -> str:
    return select.strip().rstrip(";").rstrip()


def build_models(con: duckdb.DuckDBPyConnection, sql_dir: Path | None = None) -> list[str]:
    """Create every model (views, then mart tables) in dependency order; returns the relations built.

    Runs in the caller's transaction. Needs the seeds (see `load_seeds`).
    """
    for seed in ("seeds.unit_aliases", "seeds.bulletin_formats"):
        if not relation_exists(con, seed):
            raise RuntimeError(f"{seed} does not exist: call load_seeds(con) before build_models(con)")
    built = []
    for model in discover_models(sql_dir):
        _run(con, f"create schema if not exists {model.layer}")
        _drop_other_kind(con, model)
        try:
            _run(con, f"create or replace {model.kind} {model.relation} as\n{_body(model.select)}\n")
        except duckdb.Error as exc:
            raise RuntimeError(f"building {model.relation} from {model.path} failed: {exc}") from exc
        _apply_docs(con, model)
        built.append(model.relation)
    return built


# --------------------------------------------------------------------------- data tests


@dataclass(frozen=True)
class DataTest:
    """A query returning the rows that break a rule: declared in a model's header, or a file."""

    name: str  # `<relation>__unique_key`, `<relation>__not_null`, or the test file's stem
    query: str
    path: Path  # the model or test file it comes from


@dataclass(frozen=True)
class DataTestFailure:
    """A data test that returned rows."""

    name: str  # the data test's name
    failing_row_count: int
    sample_rows: list[dict[str, Any]]  # up to 5 failing rows
    source_files: list[str] = field(default_factory=list)  # inbox paths behind the sample rows

    def __str__(self) -> str:
        return self.describe()

    def describe(self, max_rows: int = 2, max_files: int = 5) -> str:
        """One line: the test, its failing rows and the files they come from.

        >>> DataTestFailure("unit_week_unique", 2, [{"week_start": "2020-12-14", "unit_name": "X"}], ["a.txt"]).describe()
        'unit_week_unique (2 rows: week_start=2020-12-14 unit_name=X; files: a.txt)'
        """
        rows = "; ".join(" ".join(f"{k}={v}" for k, v in row.items()) for row in self.sample_rows[:max_rows])
        more = f"; and {len(self.sample_rows) - max_rows} more" if len(self.sample_rows) > max_rows else ""
        files = ", ".join(self.source_files[:max_files])
        if len(self.source_files) > max_files:
            files += f" and {len(self.source_files) - max_files} more"
        noun = "row" if self.failing_row_count == 1 else "rows"
        detail = f": {rows}{more}" if rows else ""
        return f"{self.name} ({self.failing_row_count} {noun}{detail}{'; files: ' + files if files else ''})"


def source_files(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> list[str]:
    """The inbox paths behind failing rows, from the lineage columns they carry.

    `file_sha256` names a file; `bulletin_id` / `bulletin_ids` a bulletin and so its file;
    `week_start` every file that printed a bulletin of that week.
    """
    shas = {r["file_sha256"] for r in rows if r.get("file_sha256")}
    bulletin_ids = {r["bulletin_id"] for r in rows if r.get("bulletin_id")}
    bulletin_ids |= {b for r in rows for b in (r.get("bulletin_ids") or [])}
    weeks = {r["week_start"] for r in rows if r.get("week_start")}
    if bulletin_ids:
        shas |= {
            row[0]
            for row in _run(con, "select file_sha256 from raw.bulletins where bulletin_id in ?", [sorted(bulletin_ids)])
        }
    if weeks:
        shas |= {
            row[0]
            for row in _run(con, "select file_sha256 from raw.bulletins where period_start in ?", [sorted(weeks)])
        }
    if not shas:
        return []
    return [
        row[0]
        for row in _run(
            con,
            "select distinct path from ingest.files where file_sha256 in ? and status <> 'duplicate' order by path",
            [sorted(shas)],
        )
    ]


def declared_tests(model: Model) -> list[DataTest]:
    """The tests a model's header declares: its unique key and its not-null columns.

    >>> [(t.name, t.query.splitlines()[-1]) for t in declared_tests(Model(
    ...     "marts", "m", Path("m.sql"), "", "one row per week", None, {"week_start": "", "n": ""},
    ...     unique_key=("week_start",), not_null=("week_start", "n")))]
    [('marts.m__unique_key', 'having count(*) > 1'), ('marts.m__not_null', 'where week_start is null or n is null')]
    """
    tests = []
    if model.unique_key:
        key = ", ".join(model.unique_key)
        tests.append(
            DataTest(
                name=f"{model.relation}__unique_key",
                query=f"select {key}, count(*) as row_count\nfrom {model.relation}\ngroup by {key}\nhaving count(*) > 1",
                path=model.path,
            )
        )
    if model.not_null:
        nulls = " or ".join(f"{column} is null" for column in model.not_null)
        tests.append(
            DataTest(
                name=f"{model.relation}__not_null",
                query=f"select *\nfrom {model.relation}\nwhere {nulls}",
                path=model.path,
            )
        )
    return tests


def data_tests(sql_dir: Path | None = None) -> list[DataTest]:
    """Every data test, by name: those the models declare, then `sql/tests/*.sql`."""
    tests = [test for model in discover_models(sql_dir) for test in declared_tests(model)]
    tests += [
        DataTest(name=path.stem, query=_body(path.read_text(encoding="utf-8")), path=path)
        for path in sorted((_sql_dir(sql_dir) / "tests").glob("*.sql"))
    ]
    names = [test.name for test in tests]
    if len(set(names)) != len(names):
        raise ValueError(f"data test names must be unique: {sorted(n for n in set(names) if names.count(n) > 1)}")
    return sorted(tests, key=lambda test: test.name)


def run_data_tests(con: duckdb.DuckDBPyConnection, sql_dir: Path | None = None) -> list[DataTestFailure]:
    """Run every data test; returns those that returned rows (empty: all pass)."""
    failures = []
    for test in data_tests(sql_dir):
        count = _run(con, f"select count(*) from (\n{test.query}\n)")[0][0]
        if not count:
            continue
        cursor = con.execute(f"select * from (\n{test.query}\n) limit 5")
        names = [d[0] for d in cursor.description]
        sample = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        failures.append(
            DataTestFailure(
                name=test.name, failing_row_count=count, sample_rows=sample, source_files=source_files(con, sample)
            )
        )
    return failures
