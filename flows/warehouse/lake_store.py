"""Where the lake is, and every file operation on it: a local folder or `s3://bucket/prefix`.

The lake's Delta tables are opened by deltalake from a URI (`table_uri`) with
`storage_options`; everything else the lake holds (data files before their commit,
the audit's set-aside files and its log, holds, decisions, the maintenance stamp) goes
through the functions here, by a path relative to the lake ('/'-separated). A local
lake keeps its own code path (fsync, atomic renames); an S3 lake goes through pyarrow's
S3 filesystem (`flows.warehouse.storage.s3_filesystem`: the standard AWS variables), where
one PUT is already all or nothing and a "move" is a copy and a delete.

A Parquet lake (before Delta) only ever existed in a local folder: its conversion
(`flows.warehouse.migrate`) has nothing to do on S3.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from flows.settings import S3Location, SettingsError, inbox_location
from flows.warehouse.atomic import write_atomic

if TYPE_CHECKING:
    from pyarrow import fs as pafs

Lake = Path | S3Location  # a local folder, or s3://bucket/prefix (docs/s3.md)

# Where the audit sets aside data files and tables it cannot use, and why (one line each).
# The names on disk are the first versions' (lakes in use hold them); in the code these are
# "set aside", and "quarantined" is only a file status (docs/reference.md, glossary).
SET_ASIDE_DIR = "_quarantine"
SET_ASIDE_LOG = "quarantine.log"
MIGRATED_DIR = "_migrated"
WRITE_PROBE = "_write_check"


def location(text: str | os.PathLike[str] | S3Location) -> Lake:
    """A lake as given (an option, a variable, a task's parameter): `s3://...` or a folder's path."""
    return inbox_location(text)


def is_remote(lake_dir: Lake) -> bool:
    return isinstance(lake_dir, S3Location)


def local(lake_dir: Lake, what: str = "this operation") -> Path:
    """The lake's folder; SettingsError for an S3 lake (only a local lake has `what`)."""
    if isinstance(lake_dir, S3Location):
        raise SettingsError(f"{what} applies to a local lake only, not to {lake_dir}")
    return lake_dir


def table_dir(lake_dir: Lake, table: str) -> Path:
    """A local table's folder (the legacy Parquet parts lived here too)."""
    return local(lake_dir, "a table's folder") / table


def table_uri(lake_dir: Lake, table: str) -> str:
    """The Delta table of a raw table, or of anything else under the lake (`marts/<name>`)."""
    return f"{str(lake_dir).rstrip('/')}/{table}"


def storage_options(lake_dir: Lake) -> dict[str, str] | None:
    """deltalake's storage options: none for a local lake; the standard AWS variables for s3://.

    Commits to a table on S3 are safe between writers through conditional writes
    (`If-None-Match: *` on the log's next entry, delta-rs's default): nothing here sets
    AWS_S3_ALLOW_UNSAFE_RENAME (docs/s3.md, "Concurrent commits").
    """
    if not is_remote(lake_dir):
        return None
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL")
    options = {name: os.environ[name] for name in names if os.environ.get(name)}
    if "AWS_REGION" not in options and os.environ.get("AWS_DEFAULT_REGION"):
        options["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"]
    if options.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        options["AWS_ALLOW_HTTP"] = "true"
    # An unreachable store fails in seconds (as the inbox does), not after minutes of retries.
    options |= {"timeout": "60s", "connect_timeout": "5s"}
    return options


def _s3() -> pafs.S3FileSystem:
    from flows.warehouse import storage

    return storage.s3_filesystem()


def filesystem(lake_dir: Lake) -> pafs.FileSystem:
    """The pyarrow filesystem the lake's files are read and written through."""
    if isinstance(lake_dir, S3Location):
        return _s3()
    from pyarrow import fs

    return fs.LocalFileSystem()


def path(lake_dir: Lake, relative: str) -> str:
    """A file of the lake, as its `filesystem` names it."""
    if isinstance(lake_dir, S3Location):
        return (lake_dir / relative).path
    return str(lake_dir / relative)


def exists(lake_dir: Lake) -> bool:
    """Whether the lake is there: a folder, or (on S3) anything under its prefix."""
    if not isinstance(lake_dir, S3Location):
        return lake_dir.is_dir()
    from pyarrow import fs

    return bool(_s3().get_file_info(fs.FileSelector(lake_dir.path, recursive=False, allow_not_found=True)))


def make(lake_dir: Lake) -> None:
    """Create a local lake's folder (a prefix of S3 needs none)."""
    if not isinstance(lake_dir, S3Location):
        lake_dir.mkdir(parents=True, exist_ok=True)


# --- checks: one line, never a secret --------------------------------------------------------


def check(lake_dir: Lake, *, write: bool) -> None:
    """Make sure an S3 lake can be read (and, when `write`, written): S3SettingsError naming
    what is wrong (no key, a key refused, a bucket missing, an endpoint unreachable)."""
    if not isinstance(lake_dir, S3Location):
        return
    from pyarrow import fs

    from flows.warehouse import storage

    if not os.environ.get(storage.ACCESS_KEY_ENV, "").strip() or not os.environ.get(storage.SECRET_KEY_ENV, "").strip():
        raise storage.S3SettingsError(
            f"S3 上的湖需要访问密钥：请设置 {storage.ACCESS_KEY_ENV} 和 {storage.SECRET_KEY_ENV}（docs/s3.md）"
        )
    s3 = _s3()
    try:
        if s3.get_file_info(lake_dir.bucket).type == fs.FileType.NotFound:
            raise storage.S3SettingsError(
                f"S3 桶 {lake_dir.bucket} 不存在（{storage.where()}）：请先建好桶，或改正 --lake / BULLETINS_LAKE"
            )
        s3.get_file_info(fs.FileSelector(lake_dir.path, recursive=False, allow_not_found=True))
    except OSError as exc:
        raise storage.describe_s3_failure(exc, lake_dir) from None
    if not write:
        return
    try:  # the key reads the lake: may it write there too?
        probe = path(lake_dir, WRITE_PROBE)
        with s3.open_output_stream(probe) as fh:
            fh.write(b"a run writes here\n")
        s3.delete_file(probe)
    except OSError as exc:
        if storage.refused(exc) and not storage.key_unknown(exc):
            raise storage.S3SettingsError(
                f"S3 拒绝写入湖 {lake_dir}{storage.key_hint()}（{storage.where()}）：运行需要一个能读、写、删除"
                f"该前缀下对象的密钥；只读密钥只能读取湖（任何 Delta 读取器；docs/s3.md）"
            ) from None
        raise storage.describe_s3_failure(exc, lake_dir) from None


# --- files ---------------------------------------------------------------------------------


def is_file(lake_dir: Lake, relative: str) -> bool:
    from pyarrow import fs

    return bool(filesystem(lake_dir).get_file_info(path(lake_dir, relative)).type == fs.FileType.File)


def file_size_and_mtime_ms(lake_dir: Lake, relative: str) -> tuple[int, int]:
    """A written file's size and modification time (ms), for its `add` action."""
    if not isinstance(lake_dir, S3Location):
        stat = (lake_dir / relative).stat()
        return stat.st_size, int(stat.st_mtime * 1000)
    info = _s3().get_file_info(path(lake_dir, relative))
    mtime = info.mtime or datetime.now(UTC)
    return int(info.size or 0), int(mtime.timestamp() * 1000)


def sync(lake_dir: Lake, relative: str) -> None:
    """Make a written file survive a power cut (an S3 PUT is durable when it returns)."""
    if not isinstance(lake_dir, S3Location):
        with open(lake_dir / relative, "rb") as fh:
            os.fsync(fh.fileno())


def delete(lake_dir: Lake, relative: str) -> None:
    """Remove a file, if it is there."""
    if not isinstance(lake_dir, S3Location):
        (lake_dir / relative).unlink(missing_ok=True)
        return
    with contextlib.suppress(FileNotFoundError):
        _s3().delete_file(path(lake_dir, relative))


def delete_folder(lake_dir: Lake, folder: str) -> None:
    """Remove a folder of the lake and all it holds, if it is there (in S3: every key under it)."""
    if not isinstance(lake_dir, S3Location):
        shutil.rmtree(lake_dir / folder, ignore_errors=True)
        return
    for name in list_files(lake_dir, folder):
        delete(lake_dir, f"{folder}/{name}")


def list_files(lake_dir: Lake, folder: str) -> list[str]:
    """Every file under `folder` of the lake (recursively), relative to `folder`, in name order."""
    from pyarrow import fs

    base = path(lake_dir, folder).rstrip("/")
    selector = fs.FileSelector(base, recursive=True, allow_not_found=True)
    infos = filesystem(lake_dir).get_file_info(selector)
    names = sorted(i.path[len(base) + 1 :] for i in infos if i.type == fs.FileType.File)
    return names


def read_text(lake_dir: Lake, relative: str) -> str | None:
    """A text file of the lake (UTF-8), or None when there is none."""
    if not isinstance(lake_dir, S3Location):
        target = lake_dir / relative
        return target.read_text(encoding="utf-8") if target.is_file() else None
    try:
        with _s3().open_input_stream(path(lake_dir, relative)) as fh:
            return bytes(fh.read()).decode("utf-8")
    except FileNotFoundError:
        return None


def write_text(lake_dir: Lake, relative: str, text: str) -> str:
    """Write a text file of the lake whole or not at all (a local rename; one S3 PUT); returns `relative`."""
    if not isinstance(lake_dir, S3Location):
        target = lake_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, text)
        return relative
    with _s3().open_output_stream(path(lake_dir, relative)) as fh:
        fh.write(text.encode("utf-8"))
    return relative


def _move(lake_dir: Lake, source: str, target: str) -> None:
    if not isinstance(lake_dir, S3Location):
        (lake_dir / target).parent.mkdir(parents=True, exist_ok=True)
        os.replace(lake_dir / source, lake_dir / target)
        return
    s3 = _s3()
    s3.copy_file(path(lake_dir, source), path(lake_dir, target))
    s3.delete_file(path(lake_dir, source))


# --- what the audit sets aside -------------------------------------------------------------


def set_aside(lake_dir: Lake, relatives: Sequence[str], reason: str) -> None:
    """Move files into lake/_quarantine/<relative path> (never over another) and log why."""
    moved = []
    for relative in relatives:
        target = f"{SET_ASIDE_DIR}/{relative}"
        n = 0
        while is_file(lake_dir, target):
            n += 1
            target = f"{SET_ASIDE_DIR}/{relative}.{n}"
        _move(lake_dir, relative, target)
        moved.append((relative, target))
    log_set_aside(lake_dir, moved, reason)


def log_set_aside(lake_dir: Lake, entries: Sequence[tuple[str, str]], reason: str) -> None:
    """Append (what, where it went) lines with their reason to lake/_quarantine/quarantine.log.

    S3 has no append: the log is read and written again whole (the audit runs under the run lock).
    """
    when = datetime.now(UTC).isoformat(timespec="seconds")
    lines = "".join(f"{when}\t{what}\t{where}\t{reason}\n" for what, where in entries)
    relative = f"{SET_ASIDE_DIR}/{SET_ASIDE_LOG}"
    if isinstance(lake_dir, S3Location):
        write_text(lake_dir, relative, (read_text(lake_dir, relative) or "") + lines)
        return
    (lake_dir / SET_ASIDE_DIR).mkdir(parents=True, exist_ok=True)
    with open(lake_dir / relative, "a", encoding="utf-8") as log:
        log.write(lines)


def read_set_aside_log(lake_dir: Lake) -> str:
    """What the audit set aside, and why (the log's lines)."""
    return read_text(lake_dir, f"{SET_ASIDE_DIR}/{SET_ASIDE_LOG}") or ""


def stray_files(lake_dir: Lake, table: str, *, lost: bool = False) -> list[str]:
    """What a table's folder holds that is not its Delta table: not `_delta_log`, not a data
    file (`part-*.parquet`, ours or delta-rs's), relative to the lake. `lost`: the table's
    log is gone, so every file in its folder is a stray (no reader can use it)."""
    found = []
    for name in list_files(lake_dir, table):
        top = name.split("/", 1)[0]
        if not lost and (top == "_delta_log" or ("/" not in name and is_data_file_name(name))):
            continue
        found.append(f"{table}/{name}")
    return found


def is_data_file_name(name: str) -> bool:
    return name.startswith("part-") and name.endswith(".parquet")


# --- the Parquet lake's leftovers (a local lake only) ------------------------------------------


def move_to_migrated(lake_dir: Lake, file: Path) -> Path:
    """Keep a converted file of the Parquet lake under lake/_migrated/ (nothing is deleted)."""
    root = local(lake_dir, "converting a Parquet lake")
    target = root / MIGRATED_DIR / file.relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(file, target)
    return target


def legacy_folder_files(lake_dir: Lake, folder_name: str) -> list[Path]:
    """The Parquet files directly in a folder of a local lake (a Parquet lake's leftovers); none on S3."""
    if isinstance(lake_dir, S3Location):
        return []
    folder = lake_dir / folder_name
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def legacy_part_files(lake_dir: Lake, table: str) -> list[Path]:
    """The Parquet lake's parts of a table (`<table>/<batch_id>.parquet`, leftovers included)."""
    if isinstance(lake_dir, S3Location):
        return []
    folder = lake_dir / table
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith("part-") and p.name.endswith((".parquet", ".parquet.tmp"))
    )


def relative(lake_dir: Lake, file: Path | str) -> str:
    """A local file's path relative to the lake ('/'-separated); a relative path as it is."""
    if isinstance(file, str):
        return file
    return file.relative_to(local(lake_dir)).as_posix()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
