"""The SQL layer: alias seed, models in dependency order, their comments, data tests.

Pure functions over a DuckDB connection; no Prefect here. Nothing in this module
begins or commits a transaction: the caller decides (the flow loads the lake, the seed
and the models in one transaction).

Layout under `flows.settings.SQL_DIR`:

- `seeds/unit_aliases.csv`: `alias,canonical`, one known spelling of a unit per line.
- `staging/*.sql` (views), `core/*.sql` (views), `marts/*.sql` (tables): each file holds
  one select; its name is the relation's name (`marts/unit_week_performance.sql` ->
  `marts.unit_week_performance`). A header of `--` lines documents it:

      -- grain: one row per canonical unit per published week
      -- description: optional free text about the relation
      -- column: week_start: first day of the week reported
      -- column: unit_name: canonical unit name
      --     (an indented `--` line continues the entry above it)

  Core and mart models must document every column they produce, and nothing else.
- `tests/*.sql`: each a query returning the rows that break a rule; none = pass.
"""

from __future__ import annotations

import csv
import heapq
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from flows.parsing.names import normalize_name
from flows.settings import SQL_DIR
from flows.warehouse.db import relation_exists, sql_quote

# Layers in build order, and what each layer's models become.
LAYERS: dict[str, str] = {"staging": "view", "core": "view", "marts": "table"}
# Layers whose models must document every column.
DOCUMENTED_LAYERS = ("core", "marts")

SEED_ALIASES = "seeds/unit_aliases.csv"


def _sql_dir(sql_dir: Path | None) -> Path:
    return Path(sql_dir) if sql_dir is not None else SQL_DIR


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """Execute and fully consume the result (DuckDB 2.x needs it before the next statement)."""
    return con.execute(sql, params or []).fetchall()


# --------------------------------------------------------------------------- seeds


def read_unit_aliases(path: Path) -> dict[str, str]:
    """Read the alias CSV into {alias_key: canonical}, both folded with `normalize_name`.

    Chains resolve to their end (a -> b, b -> c gives a -> c); every canonical name maps
    to itself. Raises ValueError on a missing header, an empty cell, an alias listed
    with two different canonicals, or a cycle.
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        if header[:2] != ["alias", "canonical"]:
            raise ValueError(f"{path}: the header must start with 'alias,canonical', found {header!r}")
        reader.fieldnames = header
        direct: dict[str, tuple[str, int]] = {}
        for row in reader:
            line = reader.line_num
            alias_raw = (row.get("alias") or "").strip()
            canonical_raw = (row.get("canonical") or "").strip()
            if not alias_raw and not canonical_raw:
                continue  # blank line
            if not alias_raw or not canonical_raw:
                raise ValueError(
                    f"{path}:{line}: both alias and canonical are needed, got {alias_raw!r}, {canonical_raw!r}"
                )
            alias, canonical = normalize_name(alias_raw), normalize_name(canonical_raw)
            if alias in direct and direct[alias][0] != canonical:
                earlier, earlier_line = direct[alias]
                raise ValueError(
                    f"{path}:{line}: alias {alias_raw!r} maps to {canonical!r} here "
                    f"but to {earlier!r} on line {earlier_line}"
                )
            direct[alias] = (canonical, line)

    resolved: dict[str, str] = {}
    for alias in direct:
        seen = [alias]
        target = direct[alias][0]
        while target in direct and direct[target][0] != target:
            if target in seen:
                raise ValueError(f"{path}: aliases form a cycle: {' -> '.join([*seen, target])}")
            seen.append(target)
            target = direct[target][0]
        resolved[alias] = target
    for canonical in set(resolved.values()):
        resolved.setdefault(canonical, canonical)
    return resolved


def load_seeds(con: duckdb.DuckDBPyConnection, sql_dir: Path | None = None) -> int:
    """(Re)create `seeds.unit_aliases(alias_key, canonical)` from the CSV; returns its row count."""
    aliases = read_unit_aliases(_sql_dir(sql_dir) / SEED_ALIASES)
    _run(con, "create schema if not exists seeds")
    _run(
        con,
        "create or replace table seeds.unit_aliases (alias_key varchar primary key, canonical varchar not null)",
    )
    if aliases:
        con.executemany("insert into seeds.unit_aliases values (?, ?)", sorted(aliases.items())).fetchall()
    _run(
        con,
        f"comment on table seeds.unit_aliases is {sql_quote('unit name variants from sql/' + SEED_ALIASES + ', folded (NFKC, no whitespace); every canonical name maps to itself')}",
    )
    _run(con, "comment on column seeds.unit_aliases.alias_key is 'a spelling of a unit name, folded: the join key'")
    _run(con, "comment on column seeds.unit_aliases.canonical is 'the canonical unit name it stands for'")
    return len(aliases)


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

    @property
    def relation(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def kind(self) -> str:
        return LAYERS[self.layer]

    @property
    def comment(self) -> str:
        parts = [p for p in (self.description, f"Grain: {self.grain}." if self.grain else None) if p]
        return " ".join(parts)


_HEADER_ITEM = re.compile(r"^--\s?(grain|description|column)\s*:\s*(.*)$")
_CONTINUATION = re.compile(r"^--\s{2,}(\S.*)$")
_COLUMN_ITEM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.+)$")
# String literals and comments, whichever starts first (a quote inside a comment is text).
_NOT_CODE = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.S)


def _strip_comments(sql: str) -> str:
    return _NOT_CODE.sub(" ", sql)


def parse_model(layer: str, path: Path) -> Model:
    """Read a model file: its header docs and the relations it references."""
    text = path.read_text(encoding="utf-8")
    grain: str | None = None
    description: str | None = None
    columns: dict[str, str] = {}
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
            else:
                columns[last[1]] = f"{columns[last[1]]} {extra}"  # type: ignore[index]
        else:
            last = None  # a plain comment line
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

    # Kahn's algorithm; among the ready models take the earliest layer, then the name.
    waiting = {rel: set(m.refs) for rel, m in models.items()}
    readers: dict[str, list[str]] = {rel: [] for rel in models}
    for rel, refs in waiting.items():
        for ref in refs:
            readers[ref].append(rel)
    ready = [(layer_index[m.layer], m.name, rel) for rel, m in models.items() if not waiting[rel]]
    heapq.heapify(ready)
    order: list[Model] = []
    while ready:
        _, _, rel = heapq.heappop(ready)
        order.append(models[rel])
        for reader in readers[rel]:
            waiting[reader].discard(rel)
            if not waiting[reader]:
                m = models[reader]
                heapq.heappush(ready, (layer_index[m.layer], m.name, reader))
    if len(order) != len(models):
        stuck = sorted(rel for rel, refs in waiting.items() if refs)
        raise ValueError(f"models depend on each other in a cycle: {', '.join(stuck)}")
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
    if model.comment:
        _run(con, f"comment on {model.kind} {model.relation} is {sql_quote(model.comment)}")
    for column, doc in model.columns.items():
        if column in actual:
            _run(con, f"comment on column {model.relation}.{column} is {sql_quote(doc)}")


def _body(select: str) -> str:
    return select.strip().rstrip(";").rstrip()


def build_models(con: duckdb.DuckDBPyConnection, sql_dir: Path | None = None) -> list[str]:
    """Create every model (views, then mart tables) in dependency order; returns the relations built.

    Runs in the caller's transaction. Needs `seeds.unit_aliases` (see `load_seeds`).
    """
    if not relation_exists(con, "seeds.unit_aliases"):
        raise RuntimeError("seeds.unit_aliases does not exist: call load_seeds(con) before build_models(con)")
    built = []
    for model in discover_models(sql_dir):
        _run(con, f"create schema if not exists {model.layer}")
        try:
            _run(con, f"create or replace {model.kind} {model.relation} as\n{_body(model.select)}\n")
        except duckdb.Error as exc:
            raise RuntimeError(f"building {model.relation} from {model.path} failed: {exc}") from exc
        _apply_docs(con, model)
        built.append(model.relation)
    return built


# --------------------------------------------------------------------------- data tests


@dataclass(frozen=True)
class DataTestFailure:
    """A data test that returned rows."""

    name: str  # the test file's stem
    failing_row_count: int
    sample_rows: list[dict[str, Any]]  # up to 5 failing rows

    def __str__(self) -> str:
        sample = "; ".join(str(row) for row in self.sample_rows)
        return f"{self.name}: {self.failing_row_count} failing row(s), e.g. {sample}"


def data_test_paths(sql_dir: Path | None = None) -> list[Path]:
    """The data test files, by name."""
    return sorted((_sql_dir(sql_dir) / "tests").glob("*.sql"))


def run_data_tests(con: duckdb.DuckDBPyConnection, sql_dir: Path | None = None) -> list[DataTestFailure]:
    """Run every `sql/tests/*.sql`; returns the tests that returned rows (empty: all pass)."""
    failures = []
    for path in data_test_paths(sql_dir):
        query = _body(path.read_text(encoding="utf-8"))
        count = _run(con, f"select count(*) from (\n{query}\n)")[0][0]
        if not count:
            continue
        cursor = con.execute(f"select * from (\n{query}\n) limit 5")
        names = [d[0] for d in cursor.description]
        sample = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        failures.append(DataTestFailure(name=path.stem, failing_row_count=count, sample_rows=sample))
    return failures
