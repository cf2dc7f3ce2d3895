"""The seeds the models read: unit name aliases from a CSV, and the bulletin formats.

Pure functions over a DuckDB connection; no Prefect here, and no transaction begun or
committed (the flow loads the lake, the seeds and the models in one).

- `seeds/unit_aliases.csv` under `flows.settings.SQL_DIR`: `city,alias,canonical`, one
  known spelling of a unit per line, checked and folded here (`read_unit_aliases`).
- `seeds.bulletin_formats` has no file: it is written from the format classes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from flows.parsing.formats import FORMATS
from flows.parsing.names import normalize_name
from flows.settings import SQL_DIR
from flows.warehouse import corrections
from flows.warehouse.db import fetch_all, sql_quote

SEED_ALIASES = "seeds/unit_aliases.csv"


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
    corrections.ensure_corrections_table(con)
    aliases = read_unit_aliases((SQL_DIR if sql_dir is None else Path(sql_dir)) / SEED_ALIASES)
    fetch_all(con, "create schema if not exists seeds")
    fetch_all(
        con,
        "create or replace table seeds.unit_aliases "
        "(city varchar not null, alias_key varchar not null, canonical varchar not null, primary key (city, alias_key))",
    )
    if aliases:
        rows = sorted((city, alias, canonical) for (city, alias), canonical in aliases.items())
        con.executemany("insert into seeds.unit_aliases values (?, ?, ?)", rows).fetchall()
    fetch_all(
        con,
        f"comment on table seeds.unit_aliases is {sql_quote('unit name variants from sql/' + SEED_ALIASES + ', folded (NFKC, no whitespace), per city; every canonical name maps to itself')}",
    )
    fetch_all(con, "comment on column seeds.unit_aliases.city is 'the city whose bulletins print the name'")
    fetch_all(
        con, "comment on column seeds.unit_aliases.alias_key is 'a spelling of a unit name, folded: the join key'"
    )
    fetch_all(con, "comment on column seeds.unit_aliases.canonical is 'the canonical unit name it stands for'")
    return len(aliases)


def _load_bulletin_formats(con: duckdb.DuckDBPyConnection) -> None:
    fetch_all(con, "create schema if not exists seeds")
    fetch_all(
        con,
        "create or replace table seeds.bulletin_formats "
        "(format varchar primary key, city varchar not null, groups_are_lists boolean not null)",
    )
    con.executemany("insert into seeds.bulletin_formats values (?, ?, ?)", bulletin_formats()).fetchall()
    fetch_all(
        con,
        "comment on table seeds.bulletin_formats is 'the bulletin formats the parser reads, as declared on their "
        "classes in flows/parsing/formats/'",
    )
    fetch_all(con, "comment on column seeds.bulletin_formats.format is 'the format name (core.bulletins.format)'")
    fetch_all(con, "comment on column seeds.bulletin_formats.city is 'the city whose bulletins it reads'")
    fetch_all(
        con,
        "comment on column seeds.bulletin_formats.groups_are_lists is 'true: each unit group is a list of its own "
        "(Sanmenxia: a channel); false: the groups are parts of one list, a unit may move between them (Zhumadian)'",
    )
