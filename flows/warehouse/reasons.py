"""The openings of the reasons the warehouse records (`ingest.files.reasons`, `core.files`).

Reasons are recorded in English; `flows.reporting.reason_labels` shows them in Chinese by
their opening. Each opening both sides use is named here once, and the writer and the
translator import it, so that a reworded reason cannot silently stay English for people
(tests/test_reason_labels.py records every reason through the real code and checks). The
SQL models write theirs in SQL (sql/core/files.sql): the same test checks they match.
The parser's own reasons (rejections, warnings) are in `flows.parsing.reasons`.
"""

from __future__ import annotations

from typing import Final

# A file with the same bytes as one already taken: `same bytes as <path>`.
SAME_BYTES_AS: Final = "same bytes as "
# A file over the size limit: `too large: <size> bytes, over the limit of ...`. That it is
# read again once it fits is recorded apart (the `files` column over_size_limit), not read
# from this text.
TOO_LARGE: Final = "too large"
# An inbox entry whose bytes could not be read: `could not be read (<error>): not read`.
COULD_NOT_BE_READ: Final = "could not be read"
# An entry of the inbox not read, by kind (`flows.warehouse.inbox_walk`).
FOLDER_NOT_LISTED: Final = "folder could not be listed"
NOT_EXAMINED: Final = "could not be examined"
NAME_HIDDEN: Final = "hidden"  # `hidden (name starts with '.')`, `hidden folder (...)`
SYMBOLIC_LINK: Final = "symbolic link to "
NOT_REGULAR: Final = "not a regular file"
# Notes on an entry read: its name, its modified time.
NAME_ESCAPED: Final = "file name reads as an escape"
NAME_NOT_UTF8: Final = "file name is not UTF-8"
MTIME_OUT_OF_RANGE: Final = "modified time out of range"
# An archive whose members were read, each an entry of its own: `zip archive: <n> members, ...`.
ZIP_ARCHIVE: Final = "zip archive: "
IN_ZIP_ARCHIVE: Final = "in zip archive "  # a member's note: `in zip archive <path>（压缩包内文件）`
MEMBER_NAME_TWICE: Final = "member name given twice, only the first read"  # `...（同名文件只读第一个）: <name>`
# Every closing of an entry not read: `...: not read`.
NOT_READ: Final = "not read"
# Text that looks like a bulletin no format reads: `unknown bulletin format: <what was seen>`.
UNKNOWN_FORMAT: Final = "unknown bulletin format"
# A bulletin's failed check, as ingest and core.files record it:
# `bulletin <seq> (<period start>): <check>[: <what it compared>]`.
BULLETIN: Final = "bulletin "
PERIOD_UNKNOWN: Final = "period unknown"  # the period start of a bulletin without one
# A file held out of the models by a data test (`flows.warehouse.build`).
HELD_OUT: Final = "held out: data test "
# The readers' reasons for a bulletin left out of the marts (`readers.status`).
FAILED_CHECK: Final = "failed check: "
SUPERSEDED: Final = "superseded: a later issue printed this period again"
# Decisions on record, as core.files records them (sql/core/files.sql):
# `forgotten on record by <who> at <when>: <note>`,
# `accepted on record: bulletin (<period start>): <check> by <who> at <when>: <note>`.
# A batch none of whose entries is current (sql/core/batches.sql).
BATCH_REPLACED: Final = "every entry recorded again by a later batch"
FORGOTTEN_ON_RECORD: Final = "forgotten on record"
ACCEPTED_ON_RECORD: Final = "accepted on record: "


def bulletin_reason(seq: int, period_start: object, detail: str) -> str:
    """A bulletin's failed check as a file records it.

    >>> bulletin_reason(1, None, "table_complete")
    'bulletin 1 (period unknown): table_complete'
    """
    return f"{BULLETIN}{seq} ({period_start or PERIOD_UNKNOWN}): {detail}"
