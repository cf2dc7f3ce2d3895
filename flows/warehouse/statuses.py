"""The statuses an inbox entry ends in (`ingest.files.status`, `core.files.status`).

A file's state lives in `core.files` (status, who set it, reasons): docs/reference.md,
"Where a file's and a batch's state live".
"""

from __future__ import annotations

LOADED = "loaded"  # everything on the page was read and passed its checks
PARTIAL = "partial"  # the articles loaded; a bulletin failed a check and stays out of the marts
QUARANTINED = "quarantined"  # nothing usable: empty, binary, undecodable, too large, held by a data test
DUPLICATE = "duplicate"  # the same bytes as a file already taken
SKIPPED = "skipped"  # not read: a link, a hidden entry, a FIFO or device, a folder that cannot be listed
FORGOTTEN = "forgotten"  # its content forgotten on record (`bulletins forget`): core.files only

STATUSES = (LOADED, PARTIAL, QUARANTINED, DUPLICATE, SKIPPED)  # what ingest records
FILE_STATUSES = (*STATUSES, FORGOTTEN)  # what core.files says, in the order people read them
