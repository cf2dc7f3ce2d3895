"""`make bench`'s measurements: the targets, the process tree's memory and CPU, a CLI run
timed, the parser's floor on all cores, the warehouse's models and queries, and the
figures of one scale (Scale, ReaderFigure).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flows.settings import Settings

BULLETINS = Path(sys.executable).with_name("bulletins")
PAGES_PER_DAY = 8
SEED = 1
# The targets of issue 9 (2 cores, 10 years).
TARGET_PARSER_MB_S = 15.0
TARGET_PARSE_STAGE_SHARE = 0.8
TARGET_BACKFILL_S = 30.0
TARGET_BACKFILL_SERVED_S = 15.0  # issue 19: a warm server and workers (`bulletins serve` running)
TARGET_NOTHING_NEW_S = 4.0
TARGET_NEW_DAY_EXTRA_S = 1.0
TARGET_RSS_MB = 1024.0
TARGET_MODELS_S = 2.0

QUERIES = {
    "one unit over all weeks": (
        "select week_start, unresolved, dispatched, rank_in_group, weeks_on_list_streak "
        "from marts.unit_week_performance where unit_name = '中国电信驻马店分公司' order by week_start"
    ),
    "the latest week's list": (
        "select unit_group, rank_in_group, unit_name, dispatched, unresolved, unresolved_change "
        "from marts.unit_week_performance "
        "where week_start = (select max(week_start) from marts.unit_week_performance) and on_list "
        "order by unit_group, rank_in_group"
    ),
    "articles mentioning a phrase": "select count(*) from core.articles where body like '%营商环境%'",
}


# --------------------------------------------------------------------------- measuring


class TreeMemory:
    """Peak memory of a process and all its descendants, sampled from /proc.

    Two sums: resident memory (RSS), which counts a shared library's pages once in each
    process that maps them (the run, each parse worker and Prefect's server all map
    Python, pyarrow and deltalake), and proportional set size (PSS), which splits each
    shared page among the processes that share it: what the tree takes from the machine.

    Sampling costs CPU: at every 50 ms at full priority it took some 2 CPU-s of a
    10-year backfill's 10 s parse stage, on the two cores the parse workers need (the
    stage measured 1-2 s slower for it, the peak the same). So the sampler reads every
    0.2 s, at the lowest priority: on a busy machine it waits for an idle moment.
    `lowest_priority=False` for a test that bounds memory and must miss no peak.
    """

    def __init__(self, pid: int, every_s: float = 0.2, *, lowest_priority: bool = True) -> None:
        self.pid, self.every_s, self.lowest_priority = pid, every_s, lowest_priority
        self.peak_bytes = 0  # RSS, summed over the tree
        self.peak_pss_bytes = 0  # PSS, summed over the tree
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        if self.lowest_priority:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)  # this thread only (Linux)
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            rss = pss = 0
            for pid in _tree(self.pid):
                with contextlib.suppress(OSError, IndexError, ValueError):  # exited meanwhile
                    rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
                    pss += _pss_bytes(pid)
            self.peak_bytes = max(self.peak_bytes, rss)
            self.peak_pss_bytes = max(self.peak_pss_bytes, pss)
            self._stop.wait(self.every_s)


def _pss_bytes(pid: int) -> int:
    """A process's proportional set size (`Pss:` of /proc/<pid>/smaps_rollup, in kB there)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def _tree(root: int) -> list[int]:
    """The pid and its descendants' pids."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The fastest of `repeat` timed calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


@dataclass
class CliRun:
    """One `bulletins run --timings` from the shell."""

    wall_s: float
    cpu_s: float  # the whole process tree, user + system
    peak_rss_mb: float  # the whole process tree, shared pages once per process (TreeMemory)
    peak_pss_mb: float  # the whole process tree, shared pages split among their processes
    stages: dict[str, float]
    summary: str


def run_cli(inbox: Path, warehouse: Path, prefect_home: Path, extra_env: dict[str, str] | None = None) -> CliRun:
    """Run the flow as a user would (with `extra_env` set), and read back the stage timings it prints."""
    env = {**os.environ, "PREFECT_HOME": str(prefect_home), **(extra_env or {})}
    env.pop("PREFECT_API_URL", None)  # the run starts Prefect's temporary server, as a user's does
    # A loaded machine can take longer than Prefect's default 20 s to start the server.
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    with (
        subprocess.Popen(
            [str(BULLETINS), "run", "--inbox", str(inbox), "--warehouse", str(warehouse), "--timings"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as proc,
        TreeMemory(proc.pid) as memory,
    ):
        output, _ = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"bulletins run failed ({proc.returncode}):\n{output}")
    line = next(line for line in output.splitlines() if line.startswith("timings: "))
    stages = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)s?", line)}
    summary = next(line for line in output.splitlines() if line.startswith("新文件 "))
    return CliRun(
        wall, _children_cpu_s() - cpu_before, memory.peak_bytes / 2**20, memory.peak_pss_bytes / 2**20, stages, summary
    )


@contextlib.contextmanager
def serving(
    inbox: Path, warehouse: Path, prefect_home: Path, extra_env: dict[str, str] | None = None
) -> Iterator[None]:
    """`bulletins serve` on the warehouse for the block (a schedule that does not fire
    meanwhile), with `extra_env` set: its server is up when the block starts, and
    `bulletins run` uses it."""
    from flows.orchestration.prefect_local import running_server

    env = {**os.environ, "PREFECT_HOME": str(prefect_home), **(extra_env or {})}
    env.pop("PREFECT_API_URL", None)
    command = [str(BULLETINS), "serve", "--cron", "0 7 1 1 *", "--inbox", str(inbox), "--warehouse", str(warehouse)]
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        try:
            deadline = time.monotonic() + 180
            while running_server(Settings.resolve(inbox, warehouse).serve_prefect_home) is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"bulletins serve did not start its server (exit code {proc.poll()})")
                time.sleep(0.2)
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=60)


# --------------------------------------------------------------------------- the floor


def read_decode_files(paths: Sequence[Path]) -> int:
    from flows.parsing.decode import decode

    for path in paths:
        decode(path.read_bytes())
    return len(paths)


def parse_files(paths: Sequence[Path]) -> int:
    from flows.parsing import parse_file

    for path in paths:
        parse_file(path.name, path.read_bytes())
    return len(paths)


def parse_on_all_cores(paths: Sequence[Path], workers: int) -> float:
    """Seconds to parse every file on `workers` processes (plain multiprocessing, start-up included)."""
    chunks = [paths[i : i + 64] for i in range(0, len(paths), 64)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        assert sum(pool.imap_unordered(parse_files, chunks)) == len(paths)
    return time.perf_counter() - started


def temporary_server_s(prefect_home: Path) -> tuple[float, float]:
    """Best-of-3 seconds for Prefect's temporary server to start (until healthy) and to stop."""
    from flows.orchestration.prefect_local import TemporaryServer

    saved = os.environ.get("PREFECT_HOME")
    os.environ["PREFECT_HOME"] = str(prefect_home)
    starts, stops = [], []
    try:
        for _ in range(3):
            server = TemporaryServer()
            started = time.perf_counter()
            server.start()
            server.wait_until_healthy(180)
            healthy = time.perf_counter()
            server.stop()
            starts.append(healthy - started)
            stops.append(time.perf_counter() - healthy)
    finally:
        if saved is None:
            os.environ.pop("PREFECT_HOME", None)
        else:
            os.environ["PREFECT_HOME"] = saved
    return min(starts), min(stops)


def python_with_prefect_s() -> float:
    """Wall seconds for a new Python process to import Prefect: the least any run costs."""
    return best_of(3, lambda: subprocess.run([sys.executable, "-c", "import prefect"], check=True))


# --------------------------------------------------------------------------- warehouse


def models_alone_s(db_path: Path) -> tuple[float, float]:
    """Seconds to rebuild the models, and to run the data tests, on a warehouse (rolled back)."""
    from flows.warehouse import datatests, db, models, seeds

    con = db.connect(db_path)
    try:
        con.execute("begin transaction")
        started = time.perf_counter()
        seeds.load_seeds(con)
        models.build_models(con)
        built = time.perf_counter()
        datatests.run_data_tests(con)
        tested = time.perf_counter()
        con.execute("rollback")
    finally:
        con.close()
    return built - started, tested - built


def query_s(db_path: Path) -> dict[str, tuple[float, int]]:
    """Best-of-3 seconds and row count of each typical query, on a read-only connection."""
    from flows.warehouse import db

    figures = {}
    con = db.connect(db_path, read_only=True)
    try:
        for label, sql in QUERIES.items():
            seconds = best_of(3, lambda sql=sql: con.execute(sql).fetchall())  # type: ignore[misc]
            figures[label] = (seconds, len(con.execute(sql).fetchall()))
    finally:
        con.close()
    return figures


def cli_query_s(db_path: Path) -> float:
    """Wall seconds of `bulletins query` for the latest week's list, from the shell."""
    sql = QUERIES["the latest week's list"]
    command = [str(BULLETINS), "query", sql, "--format", "csv", "--warehouse", str(db_path.parent)]
    return best_of(3, lambda: subprocess.run(command, check=True, capture_output=True))


@dataclass
class Scale:
    years: int
    pages: int = 0
    megabytes: float = 0.0
    figures: dict[str, float] = field(default_factory=dict)
    runs: dict[str, CliRun] = field(default_factory=dict)
    queries: dict[str, tuple[float, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReaderFigure:
    """One input reader on the sample page: read + parse, as a run does per file."""

    label: str
    size_bytes: int
    pages_per_s: float


def corpus_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.txt"))
