"""The `bulletins` command line: run, query, status, report, rebuild, shell, serve, deploy.

Every failure ends in one line on stderr, `error: <what happened>: <what to do>`, and a
non-zero exit code (1; 2 for a mistyped command line; 130 for Ctrl-C). The commands raise;
`OneLineErrors` below is the one place that turns exceptions into that line. Apart from
failures: `status --fail-if-stale` exits 3 on a stale feed (EXIT_STALE), `run` 75 when a
stuck run holds the lock (EX_TEMPFAIL).
"""

from __future__ import annotations

import importlib

from flows.cli.common import app

# The commands register on the app as their modules are imported: in this order, the order
# `bulletins --help` lists them.
COMMAND_MODULES = (
    "run_command",  # run
    "query_command",  # query
    "status_command",  # status
    "report_commands",  # report, export, explain
    "record_commands",  # rebuild, maintain, forget, accept
    "shell_command",  # shell
    "serve_command",  # serve
    "deploy_command",  # deploy
)
for _module in COMMAND_MODULES:
    importlib.import_module(f"flows.cli.{_module}")

__all__ = ["app", "main"]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
