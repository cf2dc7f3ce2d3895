"""The cycle collector runs less often while a batch is parsed or a run plans, and as before after."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from flows.warehouse import gc_pacing, ingest
from flows.warehouse.gc_pacing import BATCH_FIRST_THRESHOLD, fewer_collections
from flows.warehouse.inbox import batches, known_files, plan_run


@pytest.fixture
def default_threshold() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*saved)


@pytest.fixture
def three_pages(tmp_path: Path) -> Path:
    """An inbox of one day's three generated pages."""
    from flows.devtools.corpus import write_corpus

    inbox = tmp_path / "inbox"
    write_corpus(inbox, start=date(2021, 3, 1), days=1, pages_per_day=3, seed=3)
    return inbox


def test_the_threshold_is_raised_inside_and_put_back_after(default_threshold: tuple[int, int, int]) -> None:
    with fewer_collections():
        assert gc.get_threshold() == (BATCH_FIRST_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_it_is_put_back_after_an_exception(default_threshold: tuple[int, int, int]) -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a batch failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_batches_in_threads_put_it_back_after_the_last(default_threshold: tuple[int, int, int]) -> None:
    """Two batches in a Dask worker's threads: the first to finish leaves it raised for the other."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, tuple[int, int, int]] = {}

    def first() -> None:
        with fewer_collections():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with fewer_collections():
            second_in.set()
            first_out.wait(10)
            seen["after the first ended"] = gc.get_threshold()
        seen["after both"] = gc.get_threshold()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"after the first ended": (BATCH_FIRST_THRESHOLD, 10, 10), "after both": (700, 10, 10)}


def test_a_higher_threshold_set_by_the_user_is_kept() -> None:
    saved = gc.get_threshold()
    gc.set_threshold(BATCH_FIRST_THRESHOLD * 2, 10, 10)
    try:
        with fewer_collections():
            assert gc.get_threshold()[0] == BATCH_FIRST_THRESHOLD * 2
    finally:
        gc.set_threshold(*saved)


def test_a_batch_is_parsed_with_fewer_collections(
    tmp_path: Path, three_pages: Path, monkeypatch: pytest.MonkeyPatch, default_threshold: tuple[int, int, int]
) -> None:
    plan = plan_run(three_pages, known_files([]), 2 * 1024 * 1024, (), datetime.now(UTC))
    (items,) = list(batches(plan.to_parse))
    thresholds: list[int] = []
    parse = ingest.safe_parse

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        thresholds.append(gc.get_threshold()[0])
        return parse(*args, **kwargs)

    monkeypatch.setattr(ingest, "safe_parse", recording)
    result = ingest.process_batch(three_pages, tmp_path / "lake", "r-0001", items, datetime(2026, 1, 5, tzinfo=UTC))
    assert sum(result.statuses.values()) == 3
    assert thresholds == [BATCH_FIRST_THRESHOLD] * 3
    assert gc.get_threshold() == (700, 10, 10)
    assert gc_pacing._running == 0


def test_a_plan_is_made_with_fewer_collections(
    three_pages: Path, monkeypatch: pytest.MonkeyPatch, default_threshold: tuple[int, int, int]
) -> None:
    """Every file the plan hashes is hashed with the threshold raised; it is put back after."""
    from flows.warehouse import hash_ahead, storage

    thresholds: list[int] = []

    def recording(hash_file):  # type: ignore[no-untyped-def]
        def hashing(source):  # type: ignore[no-untyped-def]
            thresholds.append(gc.get_threshold()[0])
            return hash_file(source)

        return hashing

    # A file opened ahead is hashed from its descriptor, any other by its path.
    monkeypatch.setattr(hash_ahead, "sha256_fd", recording(hash_ahead.sha256_fd))
    monkeypatch.setattr(storage, "sha256_entry", recording(storage.sha256_entry))
    plan = plan_run(three_pages, known_files([]), 2 * 1024 * 1024, (), datetime.now(UTC))
    assert len(plan.to_parse) == 3
    assert thresholds == [BATCH_FIRST_THRESHOLD] * 3
    assert gc.get_threshold() == (700, 10, 10)
    assert gc_pacing._running == 0
