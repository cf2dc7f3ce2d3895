"""Ad-hoc SQL that can read the warehouse and nothing else.

DuckDB's `read_only` stops writes to the open database only: such a connection can still
`COPY ... TO` any path (e.g. forge a lake batch), `ATTACH` and write another database,
and read any file (`read_csv('/etc/passwd')`). Every connection people type SQL into is
therefore opened with external access off and the configuration locked, so no `SET`
can turn it back on. What stays allowed: the warehouse file itself (and its WAL). DuckDB
would also allow its spill folder (`temp_directory`, by default `bulletins.duckdb.tmp/`
beside the file), so `COPY`, `EXPORT DATABASE` and `ATTACH ... (READ_WRITE)` could write
there and fill the warehouse's disk: these connections spill nothing (`temp_directory`
empty) and stay within a memory limit instead, so no folder is writable at all.

The `duckdb` shell gets the same through its `-safe` flag, which also refuses the dot
commands that touch files or run programs (`.shell`, `.output`, `.read`, `.import`,
`.open`, ...). PyPI's `duckdb` wrapper script cannot start in `-safe` mode (it sends a
`SET extension_directories` first, which the locked configuration refuses), so the
shell is the binary the `duckdb-cli` package ships, started directly. Its `-safe` flag
locks the configuration before any `-cmd` runs, so the shell is started without it and
made safe by its first commands: the memory limit and no spill folder, then
`.safe_mode` (what `-safe` does). Only the flags in `SHELL_ALLOWED_FLAGS` are passed on:
`-f`, `-init` and `-cmd` would read a file or run SQL before `.safe_mode`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flows.settings import DEFAULT_QUERY_MEMORY_LIMIT

# Settings for every read-only connection (bulletins query, status, reports).
SANDBOX_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,  # no file, network or extension access beyond the database
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "python_enable_replacements": False,  # SQL cannot see the calling Python frame's variables
    "temp_directory": "",  # no spill folder: it would be a writable folder inside the warehouse
    "memory_limit": DEFAULT_QUERY_MEMORY_LIMIT,  # what a query may hold, since it cannot spill
    "lock_configuration": True,  # last: no SET / RESET / PRAGMA can undo the above
}


def sandbox_config(memory_limit: str | None = None) -> dict[str, str | bool | int | float | list[str]]:
    """SANDBOX_CONFIG, with another memory limit when given (the lock stays last)."""
    config = dict(SANDBOX_CONFIG)
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    config["lock_configuration"] = config.pop("lock_configuration")
    return config


# The shell's flags: read-only and no ~/.duckdbrc (which could run anything first); safe
# mode comes from its first commands (`shell_argv`).
SHELL_FLAGS = ("-readonly", "-no-init")

# The duckdb-cli flags `bulletins shell` passes on: output modes and SQL. The value says
# whether the flag takes the next argument. Everything else is refused: `-f`, `-init`
# and `-cmd` read files or run before safe mode, `-unsigned` loads unsigned extensions,
# `-ui` starts a web server, `-storage-version` and `-unredacted` change what is written
# or shown.
SHELL_ALLOWED_FLAGS: dict[str, bool] = {
    **dict.fromkeys(
        ["ascii", "box", "column", "csv", "html", "json", "jsonlines", "line", "list", "markdown", "quote", "table"],
        False,
    ),
    **dict.fromkeys(["header", "noheader", "echo", "bail", "batch", "interactive", "no-stdin"], False),
    **dict.fromkeys(["dark-mode", "light-mode", "version", "help", "h"], False),
    **dict.fromkeys(["c", "s", "separator", "newline", "nullvalue"], True),
}


class ShellFlagRefused(ValueError):
    """A duckdb-cli flag `bulletins shell` does not pass on (it could read a file or undo the sandbox)."""


def check_shell_args(args: list[str] | tuple[str, ...]) -> None:
    """Raise ShellFlagRefused for the first flag not in SHELL_ALLOWED_FLAGS.

    A word that is not a flag is SQL (duckdb runs it after the file); a flag's value is skipped.

    >>> check_shell_args(["-csv", "-c", "-- a comment", "select 1"])
    >>> check_shell_args(["-f", "/etc/passwd"])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    flows.warehouse.sandbox.ShellFlagRefused: bulletins shell does not pass on -f (it could read a file or undo the sandbox); ...
    """
    allowed = " ".join(f"-{name}" for name in SHELL_ALLOWED_FLAGS if name not in {"h", "help", "version"})
    words = iter(args)
    for word in words:
        if not word.startswith("-") or word in {"-", "--"}:
            continue
        name = word.lstrip("-")  # duckdb reads --csv as -csv
        if name not in SHELL_ALLOWED_FLAGS:
            flag = word if len(word) <= 40 and word.isprintable() else "that flag"
            raise ShellFlagRefused(
                f"bulletins shell does not pass on {flag} (it could read a file or undo the sandbox); "
                f"it passes on {allowed}, and SQL"
            )
        if SHELL_ALLOWED_FLAGS[name]:
            next(words, None)


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


def shell_argv(
    db_path: Path, extra: list[str] | tuple[str, ...] = (), memory_limit: str = DEFAULT_QUERY_MEMORY_LIMIT
) -> list[str]:
    """The command line of a sandboxed `duckdb` shell on the warehouse; `extra` follows the file.

    The first `-cmd` bounds memory and turns spilling off, the second is safe mode (external
    access off, configuration locked, no file-touching dot commands); both run before
    any SQL the user gives. `extra` must have passed `check_shell_args`.

    >>> shell_argv(Path("/w/bulletins.duckdb"), ["-csv"], "1GB")[1:]  # doctest: +SKIP
    ['-readonly', '-no-init', '-cmd', "SET memory_limit = '1GB'; SET temp_directory = ''", '-cmd', '.safe_mode',
     '/w/bulletins.duckdb', '-csv']
    """
    check_shell_args(extra)
    if not all(ch.isalnum() or ch in ". " for ch in memory_limit):
        raise ShellFlagRefused(f"not a memory limit: {memory_limit!r}")
    binary = shell_binary()
    bounds = f"SET memory_limit = '{memory_limit}'; SET temp_directory = ''"
    return [str(binary), *SHELL_FLAGS, "-cmd", bounds, "-cmd", ".safe_mode", str(db_path), *extra]
