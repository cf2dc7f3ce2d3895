"""The openings of the reasons the parser and the input readers record: a page's rejection
(`Rejection.reason`) and its warnings (`ParsedPage.warnings`).

Reasons are recorded in English; `flows.reporting.reason_labels` shows them in Chinese by
their opening. Each opening both sides use is named here once, imported by the writer and
by the translator (tests/test_reason_labels.py records every one through the real code).
The warehouse's own reasons are in `flows.warehouse.reasons`.
"""

from __future__ import annotations

from typing import Final

# Rejections (`flows.parsing.records.RejectionReason`): recorded as `<reason>: <detail>`.
EMPTY: Final = "empty"
NOT_TEXT: Final = "not text"
UNDECODABLE: Final = "undecodable"
NO_TEXT_LAYER: Final = "no text layer"  # an image or a scanned PDF: needs OCR
ENCRYPTED: Final = "encrypted"  # a PDF with a password
UNSUPPORTED_FORMAT: Final = "unsupported format"  # old binary Word/Excel (.doc, .xls)
UNREADABLE: Final = "unreadable"  # broken, or past a bound (unpacked size, cells, pages)
PARSER_ERROR: Final = "parser error"  # a bug, caught at the pipeline boundary

# Warnings on a page read all the same.
UNDECODABLE_AS: Final = "undecodable as "  # `undecodable as <encoding>: <n> byte(s), read as U+FFFD`
SUSPECT_CHARACTERS: Final = "U+FFFD or private-use characters in the text: "  # `<n> byte(s)`
DECLARED_CHARSET: Final = "declared charset "  # `<charset> does not read the page (<n> bad bytes): read as <encoding>`
ISSUE_DATE: Final = "issue date "  # `<date> in the file name|on the page is after the file was first seen: not used`
NO_ITEMS: Final = "no items found on the page"
