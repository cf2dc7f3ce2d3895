"""The rows of BENCHMARKS.md's tables: one column per corpus scale, each cell from that scale's figures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flows.devtools.bench_measure import Scale

ScaleCell = Callable[[Scale], str]

# The flow's stages inside `flow`, as `bulletins run --timings` names them: the rest is Prefect's.
FLOW_STAGES = ("discover", "parse", "load_and_build", "snapshot", "export_marts", "reports", "publish")


def seconds_text(seconds: float) -> str:
    """Seconds as the tables write them.

    >>> seconds_text(1.234)
    '1.23 s'
    """
    return f"{seconds:.2f} s"


def throughput_text(megabytes: float, seconds: float) -> str:
    """Megabytes over seconds as a rate.

    >>> throughput_text(30.0, 2.0)
    '15.0 MB/s'
    """
    return f"{megabytes / seconds:.1f} MB/s"


def met_text(ok: bool) -> str:
    return "met" if ok else "**not met**"


def parse_stage_share(s: Scale, run: str = "backfill") -> float:
    """A backfill's parse stage throughput as a share of the parser alone on all cores."""
    return s.figures["parse_all_s"] / s.runs[run].stages["parse"]


def server_floor(s: Scale) -> float:
    """Prefect's temporary server starting and stopping: what any run from the shell waits for."""
    return s.figures["server_start_s"] + s.figures["server_stop_s"]


@dataclass(frozen=True)
class ScaleTable:
    """A table with one column per scale; `workers` is the bench's parse workers."""

    scales: Sequence[Scale]
    workers: int

    @property
    def head(self) -> str:
        names = [f"{s.years} years" for s in self.scales]
        return "| what | " + " | ".join(names) + " |\n|---|" + "---|" * len(self.scales)

    def row(self, label: str, cell: ScaleCell) -> str:
        return f"| {label} | " + " | ".join(cell(s) for s in self.scales) + " |"

    @staticmethod
    def run_cell(name: str, floor: Callable[[Scale], float] | None = None) -> ScaleCell:
        """A run's wall and CPU time, and how many times its floor it took."""

        def cell(s: Scale) -> str:
            r = s.runs[name]
            text = f"{seconds_text(r.wall_s)} (CPU {r.cpu_s:.1f} s)"
            if floor is not None:
                text += f", {r.wall_s / floor(s):.1f}× floor"
            return text

        return cell

    @staticmethod
    def stage(name: str, run: str = "backfill") -> ScaleCell:
        return lambda s: seconds_text(s.runs[run].stages.get(name, 0.0))

    @staticmethod
    def stages(run: str, *names: str) -> ScaleCell:
        return lambda s: "; ".join(seconds_text(s.runs[run].stages.get(name, 0.0)) for name in names)

    def best_stage(self, s: Scale) -> str:
        """The least the stage could take, from this run's own figures: the parser alone on
        all cores, plus what the tasks must also do (read and hash each file, write Parquet)
        and the workers' start under Prefect's pool, spread over the workers."""
        st = s.runs["backfill"].stages
        extra = (st.get("parse_read", 0) + st.get("parse_write", 0) + st.get("parse_idle_start", 0)) / self.workers
        best = s.figures["parse_all_s"] + extra
        return f"{seconds_text(best)}: {s.figures['parse_all_s'] / best:.0%} of the parser alone"

    @staticmethod
    def overhead(run: str) -> ScaleCell:
        """The flow's time outside its stages: Prefect's flow and task machinery."""

        def cell(s: Scale) -> str:
            st = s.runs[run].stages
            inside = sum(st.get(step, 0.0) for step in FLOW_STAGES)
            return seconds_text(st["flow"] - inside)

        return cell

    def worker_idle(self, s: Scale) -> str:
        st = s.runs["backfill"].stages
        busy = st.get("parse_read", 0) + st.get("parse_parse", 0) + st.get("parse_write", 0)
        idle = st["parse"] * self.workers - busy
        tasks = int(st.get("parse_tasks", 0)) or 1
        return f"{idle:.2f} worker-s ({idle / tasks:.2f} s per task, {int(st.get('parse_tasks', 0))} tasks)"

    @staticmethod
    def process(run: str) -> ScaleCell:
        """The process's own start: the wall time outside Prefect's server and the flow."""

        def cell(s: Scale) -> str:
            r = s.runs[run]
            st = r.stages
            return seconds_text(r.wall_s - st["prefect_start_and_import"] - st["flow"] - st["prefect_stop"])

        return cell

    def small_run(self, run: str) -> list[str]:
        """The stages of a run with little to do."""
        served = run.endswith("_served")
        row, stage = self.row, self.stage
        return [
            self.head,
            row("process start (interpreter, until `bulletins` runs)", self.process(run)),
            row(
                "importing Prefect and the flow (serve's server is up)"
                if served
                else "Prefect's temporary server: start, overlapping imports",
                stage("prefect_start_and_import", run),
            ),
            row("discover: verify the warehouse (read every block)", stage("verify", run)),
            row("discover: audit the lake", stage("audit", run)),
            row("discover: plan (list, stat, hash the inbox)", stage("plan", run)),
            row("parse (in the flow's process)", stage("parse", run)),
            row("load + models + data tests + commit", stage("load_and_build", run)),
            row(
                "· load; models; data tests; commit + checkpoint",
                self.stages(run, "load", "models", "data_tests", "commit"),
            ),
            row("publish the snapshot readers open (a copy of the file, when it changed)", stage("snapshot", run)),
            row("export the marts to Parquet", stage("export_marts", run)),
            row("write the weekly reports", stage("reports", run)),
            row("publish the run's artifacts", stage("publish", run)),
            row("Prefect flow and task overhead", self.overhead(run)),
            *([] if served else [row("Prefect's temporary server: stop", stage("prefect_stop", run))]),
            row("total (wall)", lambda s: seconds_text(s.runs[run].wall_s)),
        ]
