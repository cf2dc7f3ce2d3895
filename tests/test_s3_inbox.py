"""An inbox in S3 (`s3://bucket/prefix`), against a real server (SeaweedFS, tests/servers/seaweedfs.py).

The same pages give the same warehouse from S3 as from a folder; an object is unchanged
while its key, size and ETag are; a missing object is a file removed; a key refused, a
bucket missing and an endpoint unreachable are one line each, exit 2, no secret shown.
"""

from __future__ import annotations

import io
import itertools
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import ALL_SCHEMAS, all_inbox_names, bulletins, make_inbox, query, snapshot
from servers.seaweedfs import BUCKET, READER, WRITER, Key, SeaweedS3, _free_port

from flows.settings import S3Location, Settings
from flows.warehouse.db import connection
from flows.warehouse.readers.inbox_presence import gone_from_inbox

_PREFIXES = itertools.count(1)
# ingest.files but the change stamp (a file's mtime, an object's ETag) and the run's own
# columns (when it was first seen, the batch that recorded it).
FILES_COLUMNS = "path, file_sha256, size_bytes, issue_date, issue_date_source, encoding, status, reasons, ingest_seq"


def new_prefix(prefix: str = "feed") -> S3Location:
    """A test's own place in the session's bucket (a new bucket's first write takes seconds)."""
    return S3Location(BUCKET, f"t{next(_PREFIXES)}-{time.time_ns()}/{prefix}")


def upload(server: SeaweedS3, folder: Path, location: S3Location) -> None:
    """Every file under `folder`, to the same relative keys under `location` (with the writer key)."""
    s3 = server.filesystem(WRITER)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        put(server, location / path.relative_to(folder).as_posix(), path.read_bytes(), s3)


def put(server: SeaweedS3, location: S3Location, data: bytes, s3: Any = None) -> None:
    with (s3 or server.filesystem(WRITER)).open_output_stream(location.path) as fh:
        fh.write(data)


def local_inbox(folder: Path) -> Path:
    """The sample and the bundled weeks, one week inside a zip archive, and a hidden file."""
    names = all_inbox_names()
    make_inbox(folder, [n for n in names if n != names[-1]])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(f"月报/{names[-1]}", make_inbox(folder.parent / "whole", names).joinpath(names[-1]).read_bytes())
    (folder / "2021" / "一月.zip").parent.mkdir()
    (folder / "2021" / "一月.zip").write_bytes(buffer.getvalue())
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return folder


def files_rows(db: Path) -> list[tuple[Any, ...]]:
    return query(db, f"select {FILES_COLUMNS} from ingest.files order by ingest_seq")


@pytest.fixture
def reader_env(seaweedfs: SeaweedS3, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs read the inbox with the read-only key: reading and listing is all a run needs."""
    for name, value in seaweedfs.env(READER).items():
        monkeypatch.setenv(name, value)


def test_the_server_refuses_a_put_with_the_read_only_key_and_any_request_without_a_key(seaweedfs: SeaweedS3) -> None:
    from pyarrow import fs

    where = new_prefix()
    put(seaweedfs, where / "a.txt", b"page")
    with pytest.raises(OSError, match="ACCESS_DENIED"):
        put(seaweedfs, where / "b.txt", b"page", seaweedfs.filesystem(READER))
    with pytest.raises(OSError, match="ACCESS_DENIED"):
        seaweedfs.filesystem(None).get_file_info(fs.FileSelector(BUCKET, recursive=True))
    with pytest.raises(OSError, match="ACCESS_DENIED"):
        seaweedfs.filesystem(None).open_input_file((where / "a.txt").path).read()
    listed = seaweedfs.filesystem(READER).get_file_info(fs.FileSelector(where.path, recursive=True))
    assert [i.path for i in listed] == [(where / "a.txt").path]
    assert seaweedfs.start_seconds < 30


def test_the_server_listens_on_127_0_0_1_only(seaweedfs: SeaweedS3) -> None:
    import psutil

    assert seaweedfs.proc is not None
    group = [psutil.Process(seaweedfs.proc.pid), *psutil.Process(seaweedfs.proc.pid).children(recursive=True)]
    listening = [c.laddr for p in group for c in p.net_connections("inet") if c.status == psutil.CONN_LISTEN]
    assert listening and {address.ip for address in listening} == {"127.0.0.1"}
    assert seaweedfs.s3_port in {address.port for address in listening}


def test_an_s3_inbox_lists_in_the_order_of_a_folder_walk(
    seaweedfs: SeaweedS3, reader_env: None, tmp_path: Path
) -> None:
    from flows.warehouse.inbox_walk import walk, walk_inbox

    folder = tmp_path / "inbox"
    for name in ("a/x.txt", "a-b.txt", "a.txt", "b/.git/config", "b/c.txt", ".hidden", "页/一.txt"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(name.encode())
    location = new_prefix()
    upload(seaweedfs, folder, location)
    local = [(e.path, e.kind, e.size_bytes if e.kind == "file" else None) for e in walk_inbox(folder)]
    remote = [(e.path, e.kind, e.size_bytes if e.kind == "file" else None) for e in walk(location)]
    assert remote == local


@pytest.mark.slow  # six flow runs (about 12 s)
@pytest.mark.usefixtures("prefect_harness", "reader_env")
def test_an_s3_inbox_gives_the_warehouse_a_folder_gives(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    from flows.orchestration.flow import bulletin_etl

    folder = local_inbox(tmp_path / "inbox")
    location = new_prefix("城市/feed")
    upload(seaweedfs, folder, location)
    local_db, s3_db = tmp_path / "local" / "bulletins.duckdb", tmp_path / "s3" / "bulletins.duckdb"

    bulletin_etl(inbox=str(folder), warehouse=str(local_db.parent))
    summary = bulletin_etl(inbox=str(location), warehouse=str(s3_db.parent))
    # 5 pages, a zip (its row and its member's) and a hidden file (skipped, not new)
    assert (summary.files_seen, summary.files_new) == (7, 7)
    assert snapshot(s3_db) == snapshot(local_db)  # core and marts, row for row
    assert files_rows(s3_db) == files_rows(local_db)
    # The same warehouse, its inbox moved to S3: the objects are hashed once, nothing is new.
    moved = bulletin_etl(inbox=str(location), warehouse=str(local_db.parent))
    assert (moved.files_new, moved.files_unchanged, moved.models_built) == (0, 7, False)
    statuses = dict(query(s3_db, "select path, status from ingest.files"))
    assert statuses[".DS_Store"] == "skipped" and statuses["2021/一月.zip"] == "loaded"
    assert statuses[f"2021/一月.zip!月报/{all_inbox_names()[-1]}"] == "loaded"

    # A second run changes nothing: every object unchanged (key, size, ETag), none read.
    before = snapshot(s3_db, ALL_SCHEMAS)
    summary = bulletin_etl(inbox=str(location), warehouse=str(s3_db.parent))
    assert (summary.files_new, summary.files_unchanged, summary.models_built) == (0, 7, False)
    assert snapshot(s3_db, ALL_SCHEMAS) == before

    # An object rewritten with new bytes of the same size (a new ETag) is new content.
    name = all_inbox_names()[1]
    text = (folder / name).read_text(encoding="utf-8")
    changed = text.replace("的", "之", 1).encode("utf-8")
    assert len(changed) == len(text.encode("utf-8")) and changed != text.encode("utf-8")
    put(seaweedfs, location / name, changed)
    summary = bulletin_etl(inbox=str(location), warehouse=str(s3_db.parent))
    assert (summary.files_new, summary.files_unchanged) == (1, 6)
    shas = query(s3_db, "select file_sha256 from ingest.files where path = ? order by ingest_seq", [name])
    assert len(shas) == 2 and shas[-1][0] != shas[0][0]

    # An object deleted is a file removed: nothing recorded changes, and it is listed as gone.
    seaweedfs.filesystem(WRITER).delete_file((location / name).path)
    before = snapshot(s3_db, ALL_SCHEMAS)
    summary = bulletin_etl(inbox=str(location), warehouse=str(s3_db.parent))
    assert (summary.files_seen, summary.files_new, summary.models_built) == (6, 0, False)
    assert snapshot(s3_db, ALL_SCHEMAS) == before
    with connection(s3_db, read_only=True) as con:
        gone = gone_from_inbox(con, location)
    assert gone is not None and [g.path for g in gone] == [name]


def test_a_zip_in_s3_is_read_member_by_member(seaweedfs: SeaweedS3, reader_env: None, tmp_path: Path) -> None:
    from flows.orchestration.parse_task import parse_batch
    from flows.warehouse.inbox import known_files, plan_run

    names = all_inbox_names()
    pages = make_inbox(tmp_path / "pages", names[:2])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in names[:2]:
            zf.write(pages / name, f"页/{name}")
    location = new_prefix()
    put(seaweedfs, location / "月报.zip", buffer.getvalue())
    plan = plan_run(location, known_files([]))
    assert [i.path for i in plan.to_parse] == [f"月报.zip!页/{n}" for n in names[:2]]
    # As a pool worker runs it: the inbox as the URL the flow passes.
    result = parse_batch.fn(str(location), str(tmp_path / "lake"), "b1", plan.to_parse, _now())
    assert result.statuses == {"loaded": 2} and result.missing == []


def test_an_object_deleted_is_gone_from_the_inbox_and_a_hidden_folder_is_not(
    seaweedfs: SeaweedS3, reader_env: None, tmp_path: Path
) -> None:
    from pipeline_helpers import load_without_prefect

    location = new_prefix()
    name = all_inbox_names()[0]
    upload(seaweedfs, make_inbox(tmp_path / "inbox", [name]), location)
    put(seaweedfs, location / "notes/.git/config", b"[core]")
    db = load_without_prefect(location, tmp_path / "wh")  # (typed for a folder; an S3 location plans the same)
    assert dict(query(db, "select path, status from ingest.files")) == {name: "loaded", "notes/.git": "skipped"}
    with connection(db, read_only=True) as con:
        assert gone_from_inbox(con, location) == []
    seaweedfs.filesystem(WRITER).delete_file((location / name).path)
    with connection(db, read_only=True) as con:
        assert [g.path for g in gone_from_inbox(con, location) or []] == [name]
    # What `bulletins status` says of it, as of a file removed from a folder.
    done = bulletins("status", "--inbox", str(location), "--warehouse", str(db.parent), env=seaweedfs.env(READER))
    assert done.returncode == 0, done.stderr
    assert "已移出收件箱（不计入上面的合计）：1 个" in done.stdout and name in done.stdout


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _run_cli(seaweedfs: SeaweedS3, tmp_path: Path, inbox: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return bulletins("run", "--inbox", inbox, "--warehouse", str(tmp_path / "wh"), env=env, drop=("AWS_",), timeout=120)


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    return lines[0]


def test_a_wrong_key_is_one_line_without_the_secret(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    inbox = str(new_prefix())
    wrong = Key(READER.access_key, "not-the-secret-9876543210")
    line = _one_error_line(_run_cli(seaweedfs, tmp_path, inbox, seaweedfs.env(wrong)))
    assert line.startswith("error: S3 拒绝了访问密钥"), line
    assert wrong.secret_key not in line and READER.access_key not in line
    unknown = Key("nobody-at-all", "nobody-secret-0123456789")
    line = _one_error_line(_run_cli(seaweedfs, tmp_path, inbox, seaweedfs.env(unknown)))
    assert line.startswith("error: S3 拒绝了访问密钥") and unknown.secret_key not in line


def test_a_missing_bucket_is_one_line(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    line = _one_error_line(_run_cli(seaweedfs, tmp_path, "s3://no-such-bucket/feed", seaweedfs.env(READER)))
    assert line.startswith("error: S3 桶 no-such-bucket 不存在"), line
    assert READER.secret_key not in line


@pytest.mark.slow  # the SDK's connection attempts (about 3 s)
def test_an_unreachable_endpoint_is_one_line(tmp_path: Path) -> None:
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}",
        "AWS_ACCESS_KEY_ID": READER.access_key,
        "AWS_SECRET_ACCESS_KEY": READER.secret_key,
    }
    started = time.monotonic()
    done = bulletins("run", "--inbox", "s3://inbox/feed", "--warehouse", str(tmp_path / "wh"), env=env, drop=("AWS_",))
    line = _one_error_line(done)
    assert line.startswith("error: 无法连接 S3 服务 http://127.0.0.1:"), line
    assert READER.secret_key not in line
    assert time.monotonic() - started < 30


def test_an_s3_inbox_needs_a_key(tmp_path: Path) -> None:
    done = bulletins("run", "--inbox", "s3://inbox/feed", "--warehouse", str(tmp_path / "wh"), drop=("AWS_",))
    assert _one_error_line(done).startswith("error: S3 收件箱需要访问密钥")


def test_an_s3_inbox_is_a_setting_of_its_own() -> None:
    settings = Settings.resolve("s3://bulletins/城市/feed/")
    assert settings.inbox == S3Location("bulletins", "城市/feed")
    assert str(settings.inbox) == "s3://bulletins/城市/feed"
    assert Settings.resolve(str(settings.inbox)).inbox == settings.inbox  # as a flow parameter, and back
    with pytest.raises(ValueError, match="s3://bucket"):
        Settings.resolve("s3:///feed")


@pytest.mark.slow  # starts a server of its own (about 4 s)
def test_a_stopped_server_leaves_no_process_and_no_data() -> None:
    import psutil

    server = SeaweedS3()
    server.start()
    assert server.proc is not None
    pids = [server.proc.pid, *(c.pid for c in psutil.Process(server.proc.pid).children(recursive=True))]
    server.stop()
    assert not [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not server.dir.exists()
