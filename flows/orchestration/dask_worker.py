"""A Dask worker's preload: import what a parse task needs once, when the worker starts.

`dask worker --preload flows.orchestration.dask_worker` (and `serve`'s warm cluster)
import this module at start, so the first parse task a worker takes does not wait
seconds for imports. Unlike a process-pool worker, a Dask worker also unpickles the
flow run's context, which holds the flow itself: so the flow's module (DuckDB, the
reports) is imported too, here rather than in the first task (measured: 91 modules).
"""

from __future__ import annotations

import anyio._backends._asyncio  # noqa: F401  # Prefect's clients on the worker
import prefect.artifacts  # the flow's module uses it
import prefect.task_engine  # noqa: F401  # what prefect-dask's wrapper calls on the worker
import prefect_dask.client  # noqa: F401  # the wrapper's own module

import flows.orchestration.flow  # the task's flow run context holds the flow
import flows.orchestration.parse_task  # noqa: F401  # the task, the parser, pyarrow
