"""Pure parser: one page file's bytes to typed records (no Prefect, no DuckDB here)."""

from __future__ import annotations

from flows.parsing.parse import parse_file
from flows.parsing.records import Article, Bulletin, BulletinUnitRow, ParsedPage, Rejection

__all__ = ["Article", "Bulletin", "BulletinUnitRow", "ParsedPage", "Rejection", "parse_file"]
