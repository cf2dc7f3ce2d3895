"""The warehouse: the lake (Delta tables), DuckDB, the SQL models' runner and the readers.

deltalake carries its own jemalloc, which by default keeps freed pages for ten seconds
and returns them only when it next allocates: a run that writes its plan and then
waits on the parse workers held some 50 MB it no longer used, and the parse stage is
where the run's process tree peaks (BENCHMARKS.md). Pages go back at once instead. The
setting is read when deltalake's library loads, so it is set here, before any module of
this package imports deltalake; a value the user set is kept.
"""

import os

os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
