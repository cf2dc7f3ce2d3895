"""A file's and a batch's state, each in one place: core.files and core.batches (docs/reference.md,
"Where a file's and a batch's state live")."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_helpers import load_without_prefect, query
from testdata import SAMPLE_PAGE

from flows.warehouse.db import connection
from flows.warehouse.readers.status import batches_outcome, files_by_status


@pytest.mark.scenario
def test_a_batch_counts_its_entries_by_their_status_now(tmp_path: Path) -> None:
    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    inbox.mkdir()
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "binary.txt").write_bytes(b"\0\0\0\0binary")
    db = load_without_prefect(inbox, wh)
    [(first,)] = query(db, "select batch_id from ingest.batches")
    assert query(db, "select batch_id, entries_count, current_count, status, reasons from core.batches") == [
        (first, 2, 2, "needs_attention", ["2 quarantined"])
    ]

    # The page comes at last under one of the names: that entry is now the later batch's.
    (inbox / "empty.txt").write_text(SAMPLE_PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    load_without_prefect(inbox, wh)
    [(second,)] = query(db, "select batch_id from ingest.batches where batch_id <> ?", [first])
    assert query(
        db,
        "select batch_id, entries_count, current_count, loaded_count, quarantined_count, status, reasons "
        "from core.batches order by batch_id",
    ) == [
        (first, 2, 1, 0, 1, "needs_attention", ["1 quarantined"]),
        (second, 1, 1, 1, 0, "loaded", []),
    ]
    assert query(db, "select path, status, status_by from core.files order by path") == [
        ("binary.txt", "quarantined", "ingest"),
        ("empty.txt", "loaded", "ingest"),
    ]
    with connection(db, read_only=True) as con:
        # The run's summary counts its batches' rows; over every batch, that is every file.
        assert batches_outcome(con, [second]).statuses == {"loaded": 1}
        every_batch = batches_outcome(con, [first, second]).statuses
        assert every_batch == files_by_status(con) == {"loaded": 1, "quarantined": 1}

    # Every entry of a batch recorded again later: the batch is replaced.
    (inbox / "binary.txt").unlink()
    (inbox / "binary.txt").write_bytes(b"")
    load_without_prefect(inbox, wh)
    assert query(db, "select status, reasons from core.batches where batch_id = ?", [first]) == [
        ("replaced", ["every entry recorded again by a later batch"])
    ]
