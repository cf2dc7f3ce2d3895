"""Bulletin formats: one module per city's layout, listed in FORMATS.

A new city's bulletin is a new module beside zhumadian_weekly.py implementing
BulletinFormat (recognise, parse), added to FORMATS.
"""

from __future__ import annotations

from flows.parsing.formats.base import BulletinFormat, BulletinRead, Span
from flows.parsing.formats.zhumadian_weekly import ZhumadianWeekly

FORMATS: tuple[BulletinFormat, ...] = (ZhumadianWeekly(),)

__all__ = ["FORMATS", "BulletinFormat", "BulletinRead", "Span"]
