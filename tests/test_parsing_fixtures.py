"""Every page fixture against its expected parse in tests/fixtures/expected/<page>.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from expected_pages import EXPECTED, PAGES, dumps, expected_path, pages, summarise

from flows.parsing import parse_file


def test_every_page_has_an_expected_parse() -> None:
    expected = sorted(p.relative_to(EXPECTED).with_suffix("") for p in EXPECTED.rglob("*.json"))
    assert expected == sorted(p.relative_to(PAGES).with_suffix("") for p in pages())


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(PAGES)))
def test_page_parses_as_expected(page: Path) -> None:
    expected = json.loads(expected_path(page).read_text(encoding="utf-8"))
    assert summarise(parse_file(page.name, page.read_bytes())) == expected


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(PAGES)))
def test_expected_file_is_in_its_layout(page: Path) -> None:
    """The files stay diffable: one layout, so a changed value shows as one changed line."""
    text = expected_path(page).read_text(encoding="utf-8")
    assert dumps(json.loads(text)) == text
