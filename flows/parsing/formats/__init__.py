"""Bulletin formats: one module per city's layout, listed in FORMATS.

A new city's bulletin is a new module beside zhumadian_weekly.py implementing
BulletinFormat (recognise, parse), added to FORMATS (README: "Adding a city").
Text that looks like a bulletin but that no format claims is reported by `unknown`.

Besides its BulletinFormat class, a format module names the same jobs the same way, so that
a reader of one knows where to look in the next: `is_title(text)` (is this line its title),
`period(text)` (the period its title prints) and `failed_checks(...)` (its checks; Zhumadian's
are `flows.parsing.checks.failed_checks`, whose helpers the others share). Each is called
in its own module only and takes what that layout has, so this is a naming convention,
not an interface; the interface is BulletinFormat (tests/test_names.py allows these names).
"""

from __future__ import annotations

from flows.parsing.formats.base import BulletinFormat, BulletinRead, Span
from flows.parsing.formats.sanmenxia_weekly import SanmenxiaWeekly
from flows.parsing.formats.xuchang_scorecard import XuchangScorecard
from flows.parsing.formats.zhumadian_weekly import ZhumadianWeekly

# Where two formats claim the same lines, the first listed wins.
FORMATS: tuple[BulletinFormat, ...] = (ZhumadianWeekly(), SanmenxiaWeekly(), XuchangScorecard())

# Every check name any format records, in first-seen order.
ALL_CHECK_NAMES: tuple[str, ...] = tuple(dict.fromkeys(name for fmt in FORMATS for name in fmt.check_names))

_CITIES = {fmt.name: fmt.city for fmt in FORMATS}


def city_of_format(name: str) -> str:
    """The city a format's bulletins come from.

    >>> city_of_format("zhumadian_weekly")
    '驻马店'
    """
    try:
        return _CITIES[name]
    except KeyError:
        raise ValueError(f"no bulletin format {name!r} (known: {', '.join(sorted(_CITIES))})") from None


__all__ = ["ALL_CHECK_NAMES", "FORMATS", "BulletinFormat", "BulletinRead", "Span", "city_of_format"]
