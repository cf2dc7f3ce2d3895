"""Name folding: the one definition, used by the parser's checks, ingest (the lake's unit_name_key) and the alias seed."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")


def normalize_name(name: str) -> str:
    """Fold width (NFKC) and drop all whitespace: the key unit names are matched on.

    >>> normalize_name("驿城区 政府")
    '驿城区政府'
    """
    return _SPACE.sub("", unicodedata.normalize("NFKC", name))
