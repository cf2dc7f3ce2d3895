"""The `bulletins` console script's entry point, kept apart from the command line.

The parse pool's workers are spawned processes, and a spawned process first re-imports
the script that started its parent (as `__mp_main__`). The script pip writes imports its
entry point's module at its top: were that `flows.cli`, every worker would import the
whole command line (typer, DuckDB, Dask, the flow, the reports) before its first task,
some 50 MB and a second or two each (BENCHMARKS.md). This module imports nothing until
it is called.
"""

from __future__ import annotations


def main() -> None:
    """Run the `bulletins` command line (`flows.cli`)."""
    from flows.cli import main as run_cli

    run_cli()
