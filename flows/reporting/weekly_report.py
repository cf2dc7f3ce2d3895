"""The weekly report: one published week of a city, read from the marts (`read_weekly_report`).

What it says is worded once (`report_context`, over `report_wording` and `report_tables`);
the templates in `templates/` lay that one context out as Markdown
(`report_context.render_markdown`) and as a page (`report_html.render_html`); `report_files`
writes the files. All pure over a connection / a value, so the CLI (`bulletins report`)
and the flow write the same files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import duckdb

from flows.warehouse.readers.report import (
    CityWeekRow,
    UnitWeekRow,
    city_weeks,
    group_order,
    resolve_week,
    unit_unresolved,
    unit_weeks,
)
from flows.warehouse.readers.report_sources import (
    Acceptance,
    BulletinSource,
    FailedWeek,
    acceptances,
    bulletin_sources,
    failed_weeks,
    printed_unit_names,
    week_printings,
)

# The trend charts cover this many published weeks, ending with the report's week.
TREND_WEEKS = 12

# A week with no published figures: nothing printed, or printed with a bulletin that
# failed a check (its figures exist but are not trusted: never "未发布").
NOT_PUBLISHED = "未发布"
FAILED_CHECKS = "通报未通过校验"


class NoPublishedWeek(LookupError):
    """The warehouse has no published week: nothing to report."""


@dataclass(frozen=True)
class TrendWeek:
    """A calendar week on the trend charts: published (with its figures) or not (a gap)."""

    week_start: dt.date
    city: CityWeekRow | None
    failed: FailedWeek | None = None  # a gap whose bulletin was printed but failed a check

    @property
    def gap_word(self) -> str:
        """What a gap is called: 未发布, or 通报未通过校验 when the week was printed but failed."""
        return FAILED_CHECKS if self.failed is not None else NOT_PUBLISHED


@dataclass(frozen=True)
class WeeklyReport:
    """Everything one week's report shows, read from the marts."""

    city: CityWeekRow
    units: list[UnitWeekRow]
    groups: list[str]  # unit groups in the order the bulletin prints them
    printed_names: dict[str, list[str]]  # canonical -> as printed this week (when it differs)
    trend: list[TrendWeek]  # calendar weeks of the last TREND_WEEKS published weeks, oldest first
    unit_trend: dict[tuple[str, str], dict[dt.date, int]]  # (list, unit) -> published week -> unresolved
    sources: dict[str, BulletinSource]  # bulletin_id -> where it was read: every trend week's, failed ones too
    printings: list[BulletinSource]  # every printing of this week, earliest first
    first_published: bool  # no published week before this one
    # the previous week when its bulletin failed a check (the trend's gaps carry theirs)
    previous_failed: FailedWeek | None = None
    # bulletin_id -> failed checks accepted on record, for every published trend week
    accepted: dict[str, list[Acceptance]] = field(default_factory=dict)

    @property
    def week_start(self) -> dt.date:
        return self.city.week_start

    @property
    def city_name(self) -> str:
        return self.city.city

    @property
    def previous_week(self) -> dt.date:
        return self.city.week_start - dt.timedelta(days=7)

    @property
    def on_list(self) -> list[UnitWeekRow]:
        return [u for u in self.units if u.on_list]

    def source(self, week: CityWeekRow) -> BulletinSource | None:
        return self.sources.get(week.bulletin_id)


def calendar(weeks: Sequence[CityWeekRow]) -> list[TrendWeek]:
    """Published weeks with the unpublished 7-day steps between them as gaps.

    >>> w = lambda d: CityWeekRow("c", d, d + dt.timedelta(6), *[None] * 8, False, *[None] * 3, 0, *[None] * 5, "b", None)
    >>> [(t.week_start.isoformat(), t.city is not None) for t in calendar([w(dt.date(2021, 1, 4)), w(dt.date(2021, 1, 18))])]
    [('2021-01-04', True), ('2021-01-11', False), ('2021-01-18', True)]
    """
    if not weeks:
        return []
    by_start = {w.week_start: w for w in weeks}
    starts = set(by_start)
    step = weeks[0].week_start
    while step < weeks[-1].week_start:
        inside_published = any(w.week_start < step <= (w.week_end or w.week_start) for w in weeks)
        if not inside_published:
            starts.add(step)
        step += dt.timedelta(days=7)
    return [TrendWeek(s, by_start.get(s)) for s in sorted(starts)]


def read_weekly_report(con: duckdb.DuckDBPyConnection, city_name: str, week: dt.date | None = None) -> WeeklyReport:
    """The city's report of the published week starting on or containing `week` (default: its latest).

    Raises `NoPublishedWeek` when the city has nothing published, `WeekNotPublished` when
    `week` falls in none of its published weeks.
    """
    week_start = resolve_week(con, city_name, week)
    if week_start is None:
        raise NoPublishedWeek(f"no published week of {city_name} yet: nothing to report")
    window = city_weeks(con, city_name, week_start, TREND_WEEKS)
    city = window[-1]
    units = unit_weeks(con, city_name, week_start)
    published = [w.week_start for w in window]
    printed = {
        name: raw
        for name, raw in printed_unit_names(con, city.bulletin_id).items()
        if raw != [name]  # only where the bulletin printed another spelling
    }
    groups = group_order(con, city.bulletin_id)
    groups += sorted({u.unit_group for u in units} - set(groups))
    units.sort(key=lambda u: groups.index(u.unit_group))  # stable: by rank within each group
    trend = calendar(window)
    previous = week_start - dt.timedelta(days=7)
    failed = failed_weeks(con, city_name, [t.week_start for t in trend if t.city is None] + [previous])
    return WeeklyReport(
        city=city,
        units=units,
        groups=groups,
        printed_names=printed,
        trend=[replace(t, failed=failed.get(t.week_start)) if t.city is None else t for t in trend],
        unit_trend=unit_unresolved(con, city_name, [(u.unit_list, u.unit_name) for u in units], published),
        sources=bulletin_sources(
            con, [w.bulletin_id for w in window] + [f.bulletin.bulletin_id for f in failed.values()]
        ),
        printings=week_printings(con, city_name, week_start),
        first_published=len(city_weeks(con, city_name, week_start, 2)) == 1,
        previous_failed=failed.get(previous) if not city.prev_week_published else None,
        accepted=acceptances(con, [w.bulletin_id for w in window]),
    )
