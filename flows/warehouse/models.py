"""The model runner: SQL models in dependency order, built with their comments.

Pure functions over a DuckDB connection; no Prefect here. Nothing in this module
begins or commits a transaction: the caller decides (the flow loads the lake, the seeds
and the models in one transaction). The seeds the models read: `flows.warehouse.seeds`;
the data tests, declared here and in `tests/*.sql`: `flows.warehouse.datatests`.

Layout under `flows.settings.SQL_DIR`:

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
  else. The declarations become data tests (`<relation>__unique_key`,
  `<relation>__not_null`). `materialized` makes a model a table in a layer of views:
  for the small models the data tests and the marts read many times (a view is
  computed again by every query that reads it, and so is every view under it).
  What a model reads is what DuckDB's parser finds in it (`relations_read`).
- `seeds/unit_aliases.csv`: see `flows.warehouse.seeds`.
- `tests/*.sql`: each a query returning the rows that break a business rule; none = pass.
"""

from __future__ import annotations

import graphlib
import heapq
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from flows.settings import SQL_DIR
from flows.warehouse.db import catalog, fetch_all, sql_quote

# Layers in build order, and what each layer's models become.
LAYERS: dict[str, str] = {"staging": "view", "core": "view", "marts": "table"}
# What a model's `-- materialized:` line may make it instead.
MATERIALIZATIONS = ("table", "view")
# Layers whose models must document every column.
DOCUMENTED_LAYERS = ("core", "marts")


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


def relations_read(sql: str, parser: duckdb.DuckDBPyConnection | None = None) -> frozenset[str]:
    """The schema-qualified relations a select reads, `schema.name` in lower case.

    DuckDB's parser finds them: in joins, subqueries and CTE bodies alike; a CTE's name,
    a comment or a string literal is not a relation. `parser`: any connection (it only
    parses); one is opened when None. Raises ValueError when DuckDB cannot parse the select.

    >>> sorted(relations_read("with u as (select * from core.units) select * from u join marts.m as m on true -- core.x"))
    ['core.units', 'marts.m']
    """
    # Not `con.get_table_names(sql, qualified=True)`: it binds the query too, so a USING or
    # NATURAL join fails on its placeholder tables, and it writes a table's alias into its name.
    con = parser if parser is not None else duckdb.connect(":memory:")
    try:
        [(serialized,)] = fetch_all(con, "select json_serialize_sql(?)", [statement(sql)])
    finally:
        if parser is None:
            con.close()
    tree = json.loads(serialized)
    if tree.get("error"):
        raise ValueError(tree.get("error_message") or "no reason given")
    return frozenset(_base_tables(tree))


def _base_tables(node: Any) -> Iterator[str]:
    """Every named table in a serialized parse tree (a CTE's name has no schema: left out)."""
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE" and node.get("schema_name"):
            yield f"{node['schema_name']}.{node['table_name']}".lower()
        for value in node.values():
            yield from _base_tables(value)
    elif isinstance(node, list):
        for value in node:
            yield from _base_tables(value)


def _column_list(path: Path, line: str, value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.strip().strip(",").split(","))
    if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) for name in names):
        raise ValueError(f"{path}: expected a comma-separated list of column names, got {line!r}")
    return names


def parse_model(layer: str, path: Path, parser: duckdb.DuckDBPyConnection | None = None) -> Model:
    """Read a model file: its header docs and the models it reads (see `relations_read`)."""
    return _parse_text(layer, path, path.read_text(encoding="utf-8"), parser)


def _parse_text(layer: str, path: Path, text: str, parser: duckdb.DuckDBPyConnection | None) -> Model:
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
    try:
        read = relations_read(text, parser)
    except ValueError as exc:
        raise ValueError(f"{path}: DuckDB cannot parse it: {exc}") from None
    refs = frozenset(relation for relation in read if relation.split(".")[0] in LAYERS)
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


# Models parsed before, by (layer, path, text): a run builds the models and runs their data
# tests, each from `discover_models`, and `serve` does so every run; parsing the same files
# again (DuckDB's parser and a walk of its tree) was most of a discovery's time. A changed
# file is a new key. The models are shared: read-only (Model is frozen; leave its columns be).
_PARSED: dict[tuple[str, Path, str], Model] = {}
_PARSED_MAX = 256


def _remember(key: tuple[str, Path, str], model: Model) -> Model:
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()  # bounded: model files edited over and over in one long process
    _PARSED[key] = model
    return model


def discover_models(sql_dir: Path | None = None) -> list[Model]:
    """Every model file, in build order: by layer, then by dependencies, then by name.

    Raises ValueError when a model reads a model that does not exist, one of a later
    layer, or when models depend on each other in a cycle.
    """
    base = SQL_DIR if sql_dir is None else Path(sql_dir)
    models: dict[str, Model] = {}
    parser: duckdb.DuckDBPyConnection | None = None  # opened for the first file not parsed before
    try:
        for layer in LAYERS:
            for path in sorted((base / layer).glob("*.sql")):
                text = path.read_text(encoding="utf-8")
                model = _PARSED.get((layer, path, text))
                if model is None:
                    parser = parser or duckdb.connect(":memory:")
                    model = _remember((layer, path, text), _parse_text(layer, path, text, parser))
                models[model.relation] = model
    finally:
        if parser is not None:
            parser.close()
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


def _apply_docs(con: duckdb.DuckDBPyConnection, model: Model, actual: list[str]) -> None:
    """Check the model's header against the columns it produced (`actual`) and comment them."""
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
        fetch_all(con, f"comment on {model.kind} {model.relation} is {sql_quote(model.comment)}")
    for column, doc in model.columns.items():
        if column in actual:
            fetch_all(con, f"comment on column {model.relation}.{column} is {sql_quote(doc)}")


def statement(select: str) -> str:
    """A file's SQL without the whitespace and semicolon around it."""
    return select.strip().rstrip(";").rstrip()


def build_models(con: duckdb.DuckDBPyConnection, sql_dir: Path | None = None) -> list[str]:
    """Create every model (views, then mart tables) in dependency order; returns the relations built.

    Runs in the caller's transaction. Needs the seeds (see `load_seeds`). Every model is
    created first, then checked against its header and commented (a header that does not
    match its columns raises ValueError, and the caller's transaction is rolled back).
    """
    before = catalog(con)
    for seed in ("seeds.unit_aliases", "seeds.bulletin_formats"):
        if seed not in before:
            raise RuntimeError(f"{seed} does not exist: call load_seeds(con) before build_models(con)")
    models = discover_models(sql_dir)
    for layer in dict.fromkeys(m.layer for m in models):
        fetch_all(con, f"create schema if not exists {layer}")
    for model in models:
        found = before.get(model.relation)
        if found is not None and found[0] != model.kind:  # `create or replace` cannot change the kind
            fetch_all(con, f"drop {found[0]} {model.relation}")
        try:
            fetch_all(con, f"create or replace {model.kind} {model.relation} as\n{statement(model.select)}\n")
        except duckdb.Error as exc:
            raise RuntimeError(f"building {model.relation} from {model.path} failed: {exc}") from exc
    after = catalog(con)
    for model in models:
        _apply_docs(con, model, after[model.relation][1])
    return [model.relation for model in models]
