"""A Dask worker's preload: import what a parse task needs once, when the worker starts.

`dask worker --preload flows.orchestration.dask_worker` (and `serve`'s warm cluster)
import this module at start, so the first parse task a worker takes does not wait
seconds for Prefect, pyarrow and the parser to load.
"""

from __future__ import annotations

import prefect.task_engine  # noqa: F401  # what prefect-dask's wrapper calls on the worker
import prefect_dask.client  # noqa: F401  # the wrapper's own module

import flows.orchestration.parse_task  # noqa: F401  # the task, the parser, pyarrow
