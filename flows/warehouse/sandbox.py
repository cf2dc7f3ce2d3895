"""Ad-hoc SQL that can read the warehouse and nothing else.

DuckDB's `read_only` stops writes to the open database only: such a connection can still
`COPY ... TO` any path (e.g. forge a lake batch), `ATTACH` and write another database,
and read any file (`read_csv('/etc/passwd')`). Every connection people type SQL into is
therefore opened with external access off and the configuration locked, so no `SET`
can turn it back on. What stays allowed: the warehouse file itself (and its WAL) and
DuckDB's spill folder beside it (`bulletins.duckdb.tmp/`), which DuckDB allows on its own.

The `duckdb` shell gets the same through its `-safe` flag, which also refuses the dot
commands that touch files or run programs (`.shell`, `.output`, `.read`, `.import`,
`.open`, ...). PyPI's `duckdb` wrapper script cannot start in `-safe` mode (it sends a
`SET extension_directories` first, which the locked configuration refuses), so the
shell is the binary the `duckdb-cli` package ships, started directly.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

# Settings for every read-only connection (bulletins query, status, reports).
SANDBOX_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,  # no file, network or extension access beyond the database
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "python_enable_replacements": False,  # SQL cannot see the calling Python frame's variables
    "lock_configuration": True,  # last: no SET / RESET / PRAGMA can undo the above
}

# The shell's flags: read-only, safe mode (external access off, configuration locked, no
# file-touching dot commands), and no ~/.duckdbrc (which could run anything first).
SHELL_FLAGS = ("-readonly", "-safe", "-no-init")


class ShellNotInstalled(RuntimeError):
    """The duckdb-cli package (the `duckdb` shell binary) is not installed."""


def shell_binary() -> Path:
    """The `duckdb` binary shipped in the duckdb-cli package (not its wrapper script)."""
    spec = importlib.util.find_spec("duckdb_cli")
    if spec is None or spec.origin is None:
        raise ShellNotInstalled("the duckdb shell is not installed: pip install duckdb-cli (see constraints.txt)")
    binary = Path(spec.origin).parent / "duckdb"
    if not binary.is_file():
        raise ShellNotInstalled(f"the duckdb-cli package has no binary at {binary}: reinstall duckdb-cli")
    return binary


def shell_argv(db_path: Path, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The command line of a sandboxed `duckdb` shell on the warehouse; `extra` follows the file.

    >>> shell_argv(Path("/w/bulletins.duckdb"), ["-csv"])[1:]  # doctest: +SKIP
    ['-readonly', '-safe', '-no-init', '/w/bulletins.duckdb', '-csv']
    """
    binary = shell_binary()
    return [str(binary), *SHELL_FLAGS, str(db_path), *extra]
