"""An inbox in an S3-compatible store: `s3://bucket/prefix`, and an inbox as given (a folder or such a location)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flows.settings.errors import SettingsError

S3_SCHEME = "s3://"


@dataclass(frozen=True)
class S3Location:
    """A place in an S3-compatible store: a bucket and a key prefix ('' for the whole bucket).

    `/` goes down as a folder would: the inbox's entries are `inbox / relative_path`.

    >>> inbox = S3Location.parse("s3://bulletins/inbox/")
    >>> str(inbox), (inbox / "2021/页.txt").path
    ('s3://bulletins/inbox', 'bulletins/inbox/2021/页.txt')
    """

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """`s3://bucket/prefix` as a location; SettingsError when it names no bucket."""
        rest = url.strip()[len(S3_SCHEME) :]
        bucket, _, prefix = rest.partition("/")
        parts = [p for p in prefix.split("/") if p]
        if not bucket or any(p in (".", "..") for p in parts):
            raise SettingsError(f"an S3 location must be written s3://bucket or s3://bucket/prefix, not {url!r}")
        return cls(bucket, "/".join(parts))

    @property
    def path(self) -> str:
        """The location as pyarrow's S3 filesystem names it: `bucket/prefix`."""
        return f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket

    def __truediv__(self, relative: str | os.PathLike[str]) -> S3Location:
        tail = "/".join(p for p in os.fspath(relative).split("/") if p)
        return S3Location(self.bucket, f"{self.prefix}/{tail}" if self.prefix and tail else self.prefix or tail)

    def __str__(self) -> str:
        return S3_SCHEME + self.path


# Where the inbox is: a local folder, or a prefix of an S3 bucket (docs/s3.md).
InboxLocation = Path | S3Location


def inbox_location(inbox: str | os.PathLike[str] | S3Location) -> InboxLocation:
    """An inbox as given (an option, a variable, a task's parameter): `s3://...` or a folder's path.

    >>> inbox_location("s3://b/in"), inbox_location("warehouse/inbox")
    (S3Location(bucket='b', prefix='in'), PosixPath('warehouse/inbox'))
    """
    if isinstance(inbox, S3Location):
        return inbox
    text = os.fspath(inbox)
    if text.lower().startswith(S3_SCHEME):
        return S3Location.parse(text)
    return Path(text)
