"""Flattened table lines: cells split by tabs or runs of spaces, numbers with or without 件."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TableLineKind = Literal["caption", "group", "header", "row", "signature", "name_only"]

_CELL_SEPARATOR = re.compile(r"\t|\s{2,}")
# 1013, 1013件, 1013 件; more than 9 digits is a misread (and would not fit int32).
_NUMBER = re.compile(r"(\d{1,9})\s*件?")
# A cell that holds a number we must not read as a count: signed, split by a space,
# with a separator or a decimal point, or too long (-8件, 1 013件, 1,013件, 10.5件).
_MALFORMED = re.compile(r"[-−+]?\s*\d[\d\s,.]*\s*件?")
_SIGN = "-−+"
# Cells that stand for "no number".
_PLACEHOLDERS = frozenset({"", "-", "—", "/", "无", "空"})
# A whole row in one cell, single spaces or none between the name and the numbers:
# names carry no digits, so the name ends at the first digit and the rest is numbers.
_FIRST_DIGIT = re.compile(r"\d")
_NUMBERS_ONLY = re.compile(r"[\d\s件,.]+")
_NUMBER_TOKEN = re.compile(r"\d+(?:\s*件)?")
_NAME_PUNCT = re.compile(r"[,。;:!?]")
MAX_NAME_CHARS = 40
MAX_CAPTION_CHARS = 40


@dataclass(frozen=True, slots=True)
class TableLine:
    """One classified line of a bulletin table."""

    kind: TableLineKind
    cells: tuple[str, ...]
    name: str | None = None  # rows and name-only rows
    values: tuple[int | None, ...] = ()  # rows: the number cells in order, None if blank or malformed
    malformed: bool = False  # rows: a number was printed that cannot be read as a count


def split_cells(text: str) -> list[str]:
    """Split a flattened row into trimmed cells, trailing empty cells dropped."""
    cells = [c.strip() for c in _CELL_SEPARATOR.split(text)]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _is_value(cell: str) -> bool:
    """Say whether a cell holds a number (maybe malformed) or stands for "no number"."""
    return cell in _PLACEHOLDERS or _NUMBER.fullmatch(cell) is not None or _MALFORMED.fullmatch(cell) is not None


def _is_malformed(cell: str) -> bool:
    """Say whether a cell prints a number that is not a plain count."""
    return _NUMBER.fullmatch(cell) is None and _MALFORMED.fullmatch(cell) is not None


def _value(cell: str) -> int | None:
    """Read a number cell; None for a placeholder."""
    m = _NUMBER.fullmatch(cell)
    return int(m[1]) if m else None


def _plausible_name(name: str) -> bool:
    """Say whether a cell can be a unit's name: short, no digits, no sentence punctuation."""
    return 0 < len(name) <= MAX_NAME_CHARS and not any(ch.isdigit() for ch in name) and _NAME_PUNCT.search(name) is None


def _split_numbers(numbers: str) -> tuple[list[str], bool] | None:
    """Split the numbers of a row printed in one cell ("1013件 8件"); say whether they are malformed.

    Names hold no digits, so the numbers start at the first digit; with single spaces
    between them, "1 013件 8件" cannot be told from three numbers: any separator, or 件
    after some numbers but not others, makes the row malformed.
    """
    if _NUMBERS_ONLY.fullmatch(numbers) is None:
        return None
    tokens = _NUMBER_TOKEN.findall(numbers)
    with_unit = sum(t.endswith("件") for t in tokens)
    malformed = any(c in numbers for c in ",.") or 0 < with_unit < len(tokens)
    return tokens, malformed


def _row(cells: list[str]) -> TableLine | None:
    """Read a unit row: a name without digits, then number cells."""
    name, rest = cells[0], cells[1:]
    malformed = False
    if any(ch.isdigit() for ch in name):
        # "驿城区政府 1013件" in the first cell: split it at the first digit.
        digit = _FIRST_DIGIT.search(name)
        numbers = name[digit.start() :] if digit else ""
        split = _split_numbers(numbers)
        if split is None:
            return None
        name = name[: len(name) - len(numbers)].strip()
        rest, malformed = split[0] + rest, split[1]
        if name[-1:] in tuple(_SIGN):  # "驿城区政府 -8件": the sign is not part of the name
            name, malformed = name[:-1].strip(), True
    if not _plausible_name(name) or not all(_is_value(c) for c in rest):
        return None
    # A malformed split leaves no number of the row trustworthy; a malformed cell, itself.
    values = tuple(None if malformed else _value(c) for c in rest)
    malformed = malformed or any(_is_malformed(c) for c in rest)
    if all(v is None for v in values) and not malformed:
        return None
    return TableLine("row", tuple(cells), name, values, malformed)


def classify(text: str) -> TableLine | None:
    """Classify a normalised line as a table line, or None when it is not one."""
    cells = split_cells(text)
    if not cells:
        return None
    first = cells[0]
    if len(cells) == 1 and not any(ch.isdigit() for ch in first):
        if first.endswith("领导小组"):
            return TableLine("signature", tuple(cells))
        if first.endswith("组") and len(first) <= MAX_NAME_CHARS:
            return TableLine("group", tuple(cells))
    is_header = first == "单位" or any("交办" in c or "未办结" in c for c in cells)
    if is_header and not any(ch.isdigit() for ch in text):
        return TableLine("header", tuple(cells))
    row = _row(cells)
    if row is not None:
        return row
    if len(cells) == 1 and "周报" in first and len(first) <= MAX_CAPTION_CHARS:
        return TableLine("caption", tuple(cells))
    if len(cells) == 1 and _plausible_name(first) and first[-1] not in "、)":
        return TableLine("name_only", tuple(cells), first)
    return None
