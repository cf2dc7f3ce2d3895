"""Expected parses of the page fixtures: what tests/fixtures/expected/<page>.json pins.

`summarise` reduces a parse to what the expected files hold (all but full bodies and the
original text); `dumps` writes it in the files' layout. To draft the expected file of a
new page fixture (then check every value against the page by hand before committing):

    .venv/bin/python tests/expected_pages.py tests/fixtures/pages/cities/<page>.txt
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flows.parsing import ParsedPage, Rejection, parse_file

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"
EXPECTED = FIXTURES / "expected"
BODY_EDGE = 20  # chars of each body's start and end written in the expected files


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def summarise(result: ParsedPage | Rejection) -> dict[str, Any]:
    """Reduce a parse to what the expected files pin: all but full bodies and original text."""
    if isinstance(result, Rejection):
        return {"rejection": result.reason, "encoding": result.encoding}
    articles = []
    for article in result.articles:
        row = asdict(article)
        del row["original_text"], row["body"]
        row["body_start"] = article.body[:BODY_EDGE]
        row["body_end"] = article.body[-BODY_EDGE:]
        row["body_paragraphs"] = article.body.count("\n") + 1 if article.body else 0
        articles.append(row)
    bulletins = []
    for bulletin in result.bulletins:
        row = asdict(bulletin)
        row["units"] = [
            [
                u.unit_group,
                u.unit_name_raw,
                u.dispatched,
                u.unresolved,
                u.row_no,
                u.line_no,
                u.closed,
                u.closure_rate_published,
            ]
            for u in bulletin.units
        ]
        row["scores"] = [
            [s.unit_group, s.unit_name_raw, s.score, s.grade, s.rank, s.score_list, s.no_data, s.row_no, s.line_no]
            for s in bulletin.scores
        ]
        bulletins.append(row)
    return _plain(
        {
            "encoding": result.encoding,
            "issue_date": result.issue_date,
            "issue_date_source": result.issue_date_source,
            "section": result.section,
            "warnings": result.warnings,
            "unknown_bulletins": [[u.title, u.line_no] for u in result.unknown_bulletins],
            "articles": articles,
            "bulletins": bulletins,
        }
    )


def _dump(value: Any, level: int) -> str:
    """json.dumps(indent=1), except that a list of plain values stays on one line."""
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dump(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return "[\n" + ",\n".join(inner + _dump(v, level + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def dumps(summary: dict[str, Any]) -> str:
    """The expected file's text: indented one space, lists of plain values on one line."""
    return _dump(summary, 0) + "\n"


def expected_path(page: Path) -> Path:
    """tests/fixtures/pages/<sub>/<name>.txt -> tests/fixtures/expected/<sub>/<name>.json."""
    return (EXPECTED / page.resolve().relative_to(PAGES.resolve())).with_suffix(".json")


def pages() -> list[Path]:
    """Every page fixture, in sub-folders too."""
    return sorted(PAGES.rglob("*.txt"))


if __name__ == "__main__":
    for name in sys.argv[1:]:
        page = Path(name)
        target = expected_path(page)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dumps(summarise(parse_file(page.name, page.read_bytes()))), encoding="utf-8")
        print(target)
