"""Every page fixture against its expected parse in tests/fixtures/expected/<page>.json."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

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
            [u.unit_group, u.unit_name_raw, u.dispatched, u.unresolved, u.row_no, u.line_no] for u in bulletin.units
        ]
        bulletins.append(row)
    return _plain(
        {
            "encoding": result.encoding,
            "issue_date": result.issue_date,
            "issue_date_source": result.issue_date_source,
            "section": result.section,
            "warnings": result.warnings,
            "articles": articles,
            "bulletins": bulletins,
        }
    )


def _pages() -> list[Path]:
    return sorted(PAGES.glob("*.txt"))


def test_every_page_has_an_expected_parse() -> None:
    assert sorted(p.stem for p in EXPECTED.glob("*.json")) == [p.stem for p in _pages()]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_page_parses_as_expected(page: Path) -> None:
    expected = json.loads((EXPECTED / f"{page.stem}.json").read_text(encoding="utf-8"))
    assert summarise(parse_file(page.name, page.read_bytes())) == expected
