"""Named points where the reliability suite kills a run: SIGKILL of its whole process group.

`BULLETINS_KILL_AT=<point>` makes `checkpoint(<point>)` kill the process group it runs in
(the `bulletins run` command, its pool workers and its temporary Prefect server), the
way a power cut or the OOM killer would. Unset, as in every real run, a checkpoint does
nothing. The points, in the order a run passes them:

- ``planned``: the plan (each new entry's ingest_seq) is in the lake, nothing parsed yet;
- ``part:<n>:<table>``: lake batch n has written that table's part (not yet complete);
- ``batch:<n>``: lake batch n is complete (its `files` part is in place); the last batch
  of a run records its duplicates and the entries it did not read;
- ``loaded``: the batches are in the raw tables, inside the uncommitted transaction;
- ``built``: the models are built, the data tests not yet run;
- ``tested``: the data tests passed, the transaction not yet committed;
- ``committed``: the transaction is committed, the plan not yet removed.
"""

from __future__ import annotations

import os
import signal

from flows.settings import Text

KILL_AT = Text(
    "BULLETINS_KILL_AT",
    None,
    "tests only: a run kills its own process group with SIGKILL at this checkpoint (`planned`, `batch:<n>`, "
    "`loaded`, `built`, `tested`, `committed`, ...)",
    "a checkpoint's name",
)
# A disk that fills up while a run works, e.g. right before the commit.
FILL_DISK_AT = Text(
    "BULLETINS_FILL_DISK_AT",
    None,
    "tests only: at this checkpoint a run writes zeros to the file until its disk is full",
    "`<checkpoint>:<file>`",
)
# The variables above, for the settings reference (docs/reference.md); unset in every real run.
TEST_HOOKS = (KILL_AT, FILL_DISK_AT)
KILL_AT_ENV = KILL_AT.name
FILL_DISK_AT_ENV = FILL_DISK_AT.name


def checkpoint(point: str) -> None:
    """Kill this process group with SIGKILL if BULLETINS_KILL_AT names `point` (tests only)."""
    if os.environ.get(KILL_AT_ENV) == point:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    at, _, filler = os.environ.get(FILL_DISK_AT_ENV, "").partition(":")
    if at == point and filler:
        _fill_disk(filler)


def _fill_disk(path: str) -> None:
    try:
        with open(path, "ab") as handle:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
    except OSError:  # ENOSPC: full
        pass
