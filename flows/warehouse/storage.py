"""Where the inbox's bytes are: every S3 operation of the inbox, behind one small module.

A local inbox keeps its own code path (`flows.warehouse.inbox`: no link followed, no
FIFO opened); an inbox at `s3://bucket/prefix` (`settings.S3Location`) is listed, read
and hashed here, through pyarrow's S3 filesystem, with the standard AWS variables:
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN for a temporary key),
AWS_ENDPOINT_URL for a store other than AWS (SeaweedFS, MinIO, ...), AWS_REGION or
AWS_DEFAULT_REGION (docs/s3.md).

An object has no inode and no mtime to trust: it is the same object while its key,
size and ETag are (a rewrite with the same size gets a new ETag). The ETag is stored as
the entry's `modified_ns`, a 63-bit number made from it (`etag_stamp`), so the inbox
compares an object's (size, stamp) as it compares a file's (size, mtime). Its sha256 is
still computed from its bytes.

Every failure of the store is one line saying what to do (`S3Error`; `S3SettingsError`
for a key refused, a bucket missing, an endpoint unreachable, which the CLI ends with
exit 2). No secret is ever part of a message.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, cast

from flows.settings import InboxLocation, S3Location, SettingsError

if TYPE_CHECKING:
    from pyarrow import fs as pafs

ACCESS_KEY_ENV, SECRET_KEY_ENV, SESSION_TOKEN_ENV = "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"
ENDPOINT_ENV, REGION_ENVS = "AWS_ENDPOINT_URL", ("AWS_REGION", "AWS_DEFAULT_REGION")
DEFAULT_REGION = "us-east-1"
# An unreachable store fails in seconds, not after the SDK's minutes of retries.
CONNECT_TIMEOUT_S, REQUEST_TIMEOUT_S, MAX_ATTEMPTS = 5.0, 60.0, 3
# ETags come from one HEAD per object (pyarrow's listing drops them): this many at a time.
HEAD_THREADS = 16
CHUNK = 1 << 20


class S3Error(Exception):
    """The store refused or failed an operation; the message is one line saying what to do."""


class S3SettingsError(SettingsError):
    """The S3 settings do not reach the inbox: a key refused, a bucket missing, an endpoint unreachable."""


@dataclass(frozen=True)
class S3Object:
    """One object under the inbox's prefix, as listed."""

    key: str  # relative to the prefix, '/'-separated
    size_bytes: int
    etag: str


def etag_stamp(etag: str) -> int:
    """The number an object's ETag is recorded as (in `modified_ns`): 63 bits of its sha256.

    >>> etag_stamp('"d41d8cd98f00b204e9800998ecf8427e"') == etag_stamp('"d41d8cd98f00b204e9800998ecf8427e"')
    True
    >>> 0 <= etag_stamp('"a"') < 2**63
    True
    """
    return int.from_bytes(hashlib.sha256(etag.encode("utf-8")).digest()[:8], "big") >> 1


def _region() -> str:
    return next((v for name in REGION_ENVS if (v := os.environ.get(name, "").strip())), DEFAULT_REGION)


def _endpoint() -> tuple[str | None, str]:
    """AWS_ENDPOINT_URL as pyarrow takes it: host[:port] and scheme (AWS itself when unset)."""
    url = os.environ.get(ENDPOINT_ENV, "").strip()
    if not url:
        return None, "https"
    match = re.fullmatch(r"(?i)(?P<scheme>https?)://(?P<host>[^/?#@\s]+)/?", url)
    if match is None:
        raise S3SettingsError(f"{ENDPOINT_ENV} 须写成 http(s)://主机[:端口]，而不是 {url!r}")
    return match["host"], match["scheme"].lower()


def s3_filesystem() -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem from the standard AWS variables; S3SettingsError when no key is set.

    A key is required: without one the AWS SDK would look for instance credentials on the
    network, a wait of minutes on a machine that has none. One filesystem per process
    and set of variables: a client is made once, not once per object.
    """
    names = (ACCESS_KEY_ENV, SECRET_KEY_ENV, SESSION_TOKEN_ENV, ENDPOINT_ENV, *REGION_ENVS)
    return _filesystem(tuple(os.environ.get(name, "").strip() for name in names))


@functools.lru_cache(maxsize=4)
def _filesystem(variables: tuple[str, ...]) -> pafs.S3FileSystem:
    from pyarrow import fs

    access, secret = variables[0], variables[1]
    if not access or not secret:
        raise S3SettingsError(
            f"S3 收件箱需要访问密钥：请设置 {ACCESS_KEY_ENV} 和 {SECRET_KEY_ENV}"
            f"（临时密钥另加 {SESSION_TOKEN_ENV}；docs/s3.md）"
        )
    host, scheme = _endpoint()
    return fs.S3FileSystem(
        access_key=access,
        secret_key=secret,
        session_token=os.environ.get(SESSION_TOKEN_ENV, "").strip() or None,
        region=_region(),
        endpoint_override=host,
        scheme=scheme,
        connect_timeout=CONNECT_TIMEOUT_S,
        request_timeout=REQUEST_TIMEOUT_S,
        retry_strategy=fs.AwsStandardS3RetryStrategy(max_attempts=MAX_ATTEMPTS),
        # The inbox is read: nothing here may create or remove a bucket.
        allow_bucket_creation=False,
        allow_bucket_deletion=False,
    )


def where() -> str:
    host, scheme = _endpoint()
    return f"{scheme}://{host}" if host else "AWS S3"


def key_hint() -> str:
    """Which key was refused, without giving it away: the last four characters of its id."""
    access = os.environ.get(ACCESS_KEY_ENV, "").strip()
    return f"（{ACCESS_KEY_ENV} …{access[-4:]}）" if len(access) > 8 else f"（{ACCESS_KEY_ENV}）"


_REFUSED = ("ACCESS_DENIED", "INVALID_ACCESS_KEY_ID", "SIGNATURE_DOES_NOT_MATCH", "EXPIRED_TOKEN", "INVALID_CLIENT_TOKEN_ID")  # fmt: skip
_UNREACHABLE = ("NETWORK_CONNECTION", "curlCode", "REQUEST_TIMEOUT", "Could not connect", "Timeout was reached")


def refused(exc: OSError) -> bool:
    """Whether the store refused the key (or the key may not do what was asked)."""
    return any(code in str(exc) for code in _REFUSED)


def key_unknown(exc: OSError) -> bool:
    """Whether the store does not know the key at all (a wrong id or secret), rather than forbid the operation."""
    return any(code in str(exc) for code in _REFUSED[1:])


def describe_s3_failure(exc: OSError, location: S3Location) -> S3SettingsError | S3Error:
    """One line for a failure of the store: a key refused, an endpoint unreachable, else what the store said."""
    text = str(exc)
    if refused(exc):
        return S3SettingsError(
            f"S3 拒绝了访问密钥{key_hint()}：无权读取 {location}（{where()}）；"
            f"请检查 {ACCESS_KEY_ENV} / {SECRET_KEY_ENV} 及该密钥对此桶的读取和列举权限"
        )
    if any(code in text for code in _UNREACHABLE):
        return S3SettingsError(f"无法连接 S3 服务 {where()}（{ENDPOINT_ENV}）：请检查地址、端口和网络后重新运行")
    first = text.splitlines()[0] if text else type(exc).__name__
    return S3Error(f"S3 操作失败（{location}，{where()}）：{first}")


def _no_bucket(location: S3Location) -> S3SettingsError:
    return S3SettingsError(f"S3 桶 {location.bucket} 不存在（{where()}）：请先建好桶，或改正 --inbox / BULLETINS_INBOX")


def check_s3_inbox(location: S3Location) -> None:
    """Make sure the inbox can be listed: S3SettingsError naming what is wrong (key, bucket, endpoint)."""
    from pyarrow import fs

    s3 = s3_filesystem()
    try:
        bucket = s3.get_file_info(location.bucket)
        if bucket.type == fs.FileType.NotFound:
            raise _no_bucket(location)
        s3.get_file_info(fs.FileSelector(location.path, recursive=False, allow_not_found=True))
    except OSError as exc:
        raise describe_s3_failure(exc, location) from None


def list_objects(location: S3Location) -> list[S3Object]:
    """Every object under the prefix, each with its ETag, in the order a local walk gives
    (name by name, folder by folder: `a/x` before `a-b`).

    A key ending in `/` (a folder marker some tools write) holds nothing to record. An
    object removed between the listing and its HEAD is left out, as a file removed while
    a folder is walked.
    """
    from pyarrow import fs

    s3 = s3_filesystem()
    base = location.path.rstrip("/") + "/"
    try:
        if s3.get_file_info(location.bucket).type == fs.FileType.NotFound:
            raise _no_bucket(location)
        infos = s3.get_file_info(fs.FileSelector(location.path, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise describe_s3_failure(exc, location) from None
    files = [i for i in infos if i.type == fs.FileType.File and i.path.startswith(base)]
    files.sort(key=lambda i: i.path[len(base) :].split("/"))

    def head(info: pafs.FileInfo) -> S3Object | None:
        try:
            with s3.open_input_file(info.path) as fh:
                metadata = fh.metadata()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise describe_s3_failure(exc, location) from None
        etag = metadata.get("ETag", b"")
        etag = etag.decode("utf-8", "replace") if isinstance(etag, bytes) else str(etag)
        size = int(metadata.get("Content-Length", info.size or 0))
        return S3Object(info.path[len(base) :], size, etag)

    with ThreadPoolExecutor(HEAD_THREADS) as pool:
        return [o for o in pool.map(head, files) if o is not None]


def open_object(location: S3Location) -> IO[bytes]:
    """An object open for reading (seekable: a zip archive's members are read from it).

    FileNotFoundError when it is gone (a file removed since planning); S3Error else.
    """
    try:
        return cast(IO[bytes], s3_filesystem().open_input_file(location.path))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise describe_s3_failure(exc, location) from None


def read_object(location: S3Location, limit: int) -> bytes:
    """An object's bytes, at most `limit` + 1 of them (one more: it grew past the limit)."""
    with open_object(location) as fh:
        return fh.read(limit + 1)


def sha256(location: S3Location) -> str:
    """The sha256 of an object's bytes, read in chunks: bounded memory whatever its size."""
    digest = hashlib.sha256()
    with open_object(location) as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def keys(location: S3Location) -> Iterator[str]:
    """The keys under the prefix now, relative to it (no HEAD: names only)."""
    from pyarrow import fs

    base = location.path.rstrip("/") + "/"
    try:
        infos = s3_filesystem().get_file_info(fs.FileSelector(location.path, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise describe_s3_failure(exc, location) from None
    return (i.path[len(base) :] for i in infos if i.type == fs.FileType.File and i.path.startswith(base))


# --------------------------------------------------------------------------- either kind


def open_entry(path: InboxLocation) -> IO[bytes]:
    """An inbox entry open for reading: a regular file (no link, no FIFO) or an object."""
    if isinstance(path, S3Location):
        return open_object(path)
    from flows.warehouse.inbox_walk import open_binary

    return open_binary(path)


def read_entry(path: InboxLocation, limit: int) -> bytes:
    """An inbox entry's bytes, at most `limit` + 1 of them."""
    if isinstance(path, S3Location):
        return read_object(path, limit)
    from flows.warehouse.inbox_walk import read_regular

    return read_regular(path, limit)


def sha256_entry(path: InboxLocation) -> str:
    """The sha256 of an inbox entry's bytes."""
    if isinstance(path, S3Location):
        return sha256(path)
    from flows.warehouse.inbox_walk import sha256_file

    return sha256_file(path)
