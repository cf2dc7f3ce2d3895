"""A realistic benchmark corpus: years of the city daily, page by page, streamed to disk.

    python -m flows.devtools.corpus OUT --years 2 --pages-per-day 8 --seed 1

Every day has `pages_per_day` pages (`OUT/YYYY/MM/YYYY-MM-DD_pNN.txt`), each a section
name and 3-6 items: news with kickers, subtitles and bylines, photo captions with
credits, commentary with □ authors, editor codes (②6), paragraphs cut by column breaks.
Every Wednesday page 2 carries the weekly bulletin of the week before (Mon-Sun), with
units entering and leaving the list, printed under aliases, renamed and moving groups;
now and then the Friday after prints a week again with a corrected figure. A few pages
come with full-width digits and punctuation, a few as GB18030 with CRLF line ends.

Each page is a pure function of (seed, day, page): any day range can be generated
alone (the bench adds "one new day" after an archive that way), and nothing is held
in memory beyond one page. The bulletins satisfy every identity of a clean one; a test
parses a sample of pages and reads the figures back exactly.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from flows.devtools.corpus_words import (
    AGENCIES,
    AUTHORS,
    CLAUSES,
    CORRESPONDENTS,
    KICKERS,
    PLACES,
    QUOTES,
    REPORTERS,
    SECTIONS,
    TITLE_WORDS,
    TOPICS,
)
from flows.devtools.synth import CITY_UNITS, DISTRICTS, SIGNATURE, PrintedUnitRow, Week

DEFAULT_START = date(2015, 1, 1)
BULLETIN_PAGE = 2
BULLETIN_WEEKDAY = 2  # Wednesday: the week before, Monday to Sunday
CORRECTION_WEEKDAY = 4  # Friday: a week printed again, corrected
CORRECTION_SHARE = 0.05  # of the weeks
FULL_WIDTH_SHARE = 0.03  # of the pages
GB18030_SHARE = 0.01  # of the pages

# The bulletin's units: (group, canonical name, aliases it is sometimes printed under, how
# often it is on the list). 高新技术产业开发区 is printed as 市产业集聚区 before RENAMED_ON;
# 市城市管理局 moves from the city units to the districts on REGROUPED_ON.
RENAMED_ON = date(2019, 7, 1)
REGROUPED_ON = date(2021, 1, 4)
UNITS: tuple[tuple[str, str, tuple[str, ...], float], ...] = (
    (DISTRICTS, "驿城区政府", ("驿城区人民政府", "驻马店市驿城区政府"), 0.85),
    (DISTRICTS, "经济开发区管委会", ("驻马店经济开发区管委会",), 0.6),
    (DISTRICTS, "市城乡一体化示范区管委会", ("城乡一体化示范区管委会",), 0.5),
    (DISTRICTS, "高新技术产业开发区", ("驻马店高新技术产业开发区",), 0.4),
    (CITY_UNITS, "中国电信驻马店分公司", ("电信驻马店分公司",), 0.9),
    (CITY_UNITS, "中一市政建设管理有限公司", ("驻马店市中一市政建设管理有限公司",), 0.7),
    (CITY_UNITS, "市豫资市政设施管理有限公司", ("豫资市政设施管理有限公司",), 0.6),
    (CITY_UNITS, "河南移动驻马店分公司", ("中国移动驻马店分公司", "移动驻马店分公司"), 0.6),
    (CITY_UNITS, "国电驻马店热电有限公司", ("国电驻马店热电公司",), 0.35),
    (CITY_UNITS, "中国联通驻马店分公司", ("联通驻马店分公司",), 0.5),
    (CITY_UNITS, "市城市管理局", (), 0.3),
    (CITY_UNITS, "驻马店供电公司", (), 0.3),
    (CITY_UNITS, "市公安局交通管理支队", (), 0.2),
)
ALIAS_SHARE = 0.15

_FULL_WIDTH = str.maketrans({**{str(d): chr(0xFF10 + d) for d in range(10)}, ",": ",", "(": "(", ")": ")", "%": "%"})


@dataclass(frozen=True)
class PrintedBulletin:
    """A bulletin on a page: the week's figures and the names as printed."""

    issue_date: date
    week: Week
    corrected: bool


def _md(d: date) -> str:
    return f"{d.month}月{d.day}日"


def week_of(monday: date, seed: int, corrected: bool = False) -> Week:
    """The figures of the week starting `monday` (the corrected printing when asked)."""
    rng = random.Random(f"{seed}:week:{monday.isoformat()}")
    rows: list[PrintedUnitRow] = []
    for group, name, aliases, share in UNITS:
        if rng.random() >= share:
            continue
        if name == "高新技术产业开发区" and monday < RENAMED_ON:
            name, aliases = "市产业集聚区", ()
        if name == "市城市管理局" and monday >= REGROUPED_ON:
            group = DISTRICTS
        printed = rng.choice(aliases) if aliases and rng.random() < ALIAS_SHARE else name
        dispatched = rng.randint(5, 1100) if group == DISTRICTS else rng.randint(3, 120)
        rows.append(PrintedUnitRow(group, printed, dispatched, rng.randint(1, min(dispatched, 70))))
    if not rows:
        rows.append(PrintedUnitRow(DISTRICTS, "驿城区政府", 900, 1))
    received, due = rng.randint(4000, 5000), rng.randint(5000, 6000)
    in_progress, disputed = rng.randint(150, 260), rng.randint(120, 200)
    if corrected:  # one unit's unresolved misprinted the first time: overdue and closed follow
        k = rng.randrange(len(rows))
        row = rows[k]
        rows[k] = PrintedUnitRow(row.group, row.name, row.dispatched, max(1, row.unresolved - rng.randint(1, 3)))
    ordered = tuple(r for g in (DISTRICTS, CITY_UNITS) for r in rows if r.group == g)
    return Week(monday, received, due, in_progress, disputed, linked_units=18, units=ordered)


def bulletin_on(issue: date, page: int, seed: int) -> PrintedBulletin | None:
    """The bulletin printed on this page, if any."""
    if page != BULLETIN_PAGE:
        return None
    if issue.weekday() == BULLETIN_WEEKDAY:
        monday = issue - timedelta(days=issue.weekday() + 7)
        return PrintedBulletin(issue, week_of(monday, seed), corrected=False)
    if issue.weekday() == CORRECTION_WEEKDAY:
        monday = issue - timedelta(days=issue.weekday() + 7)
        if random.Random(f"{seed}:correction:{monday.isoformat()}").random() < CORRECTION_SHARE:
            return PrintedBulletin(issue, week_of(monday, seed, corrected=True), corrected=True)
    return None


def _bulletin_lines(printed: PrintedBulletin, rng: random.Random) -> list[str]:
    week = printed.week
    sep = "\t" if rng.random() < 0.8 else "   "
    unit = "件" if rng.random() < 0.8 else ""
    summary = (
        f"{week.start.year}年{_md(week.start)}~{_md(week.end)},驻马店市智慧城市管理中心通过采集员、网格员采集上报、"
        f"视频抓拍、市民举报、领导交办等途径受理各类城市管理案件{week.received}件,本周应结案{week.due}件,"
        f"其中已结案{week.closed}件、正在办理中{week.in_progress}件、超时未办结{week.overdue}件,"
        f"因确权争议未处置案件共{week.disputed}件,结案率{week.closure_rate_pct},所有案件均通过数字城管系统"
        f"派单交办至{week.linked_units}个联动单位,经采集员核查,截至{_md(week.end)}18时,"
        f"存在超时未办结案件的单位共{len(week.units)}个,详细情况如下:"
    )
    # A column break cuts the summary anywhere after its first figure word (受理): the
    # first half must say it is the summary, as on the printed page.
    cut = rng.randrange(summary.index("受理") + 2, len(summary) - 10)
    lines = ["驻马店市数字化城市管理案件办理后进单位周通报", "", summary[:cut], "", summary[cut:], ""]
    lines += [f"数字城管周报({_md(week.start)}~{_md(week.end)})", ""]
    for group in (DISTRICTS, CITY_UNITS):
        rows = [u for u in week.units if u.group == group]
        if not rows:
            continue
        lines += [f"{group}{sep}{sep}", f"单位{sep}交办件{sep}未办结件"]
        lines += [f"{u.name}{sep}{u.dispatched}{unit}{sep}{u.unresolved}{unit}" for u in rows]
        lines += [f"{SIGNATURE}{sep}{sep}", ""]
    return lines


def _clause(rng: random.Random) -> str:
    text = rng.choice(CLAUSES)
    return text.format(p=rng.choice(PLACES), a=rng.choice(AGENCIES), n=rng.randint(2, 9999))


def _sentence(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return rng.choice(QUOTES)
    return ",".join(_clause(rng) for _ in range(rng.randint(2, 5))) + "。"


def _paragraph(rng: random.Random) -> str:
    return "".join(_sentence(rng) for _ in range(rng.randint(1, 4)))


def _title(rng: random.Random) -> str:
    return rng.choice(TITLE_WORDS).format(p=rng.choice(PLACES), a=rng.choice(AGENCIES), t=rng.choice(TOPICS))


def _byline(rng: random.Random) -> str:
    reporters = " ".join(rng.sample(REPORTERS, rng.choice((1, 1, 1, 2))))
    roll = rng.random()
    if roll < 0.6:
        return f"本报讯(记者 {reporters})"
    if roll < 0.9:
        return f"本报讯(记者 {reporters} 通讯员 {rng.choice(CORRESPONDENTS)})"
    return f"本报讯(通讯员 {rng.choice(CORRESPONDENTS)})"


def _cut(paragraph: str, rng: random.Random) -> list[str]:
    """Cut a long paragraph at a column break: the first half is long and unfinished."""
    stops = [i for i, ch in enumerate(paragraph) if 45 <= i < len(paragraph) - 10 and ch not in "。,、“”"]
    if not stops:
        return [paragraph]
    at = rng.choice(stops)
    return [paragraph[:at], "", paragraph[at:]]


def _news(rng: random.Random, issue: date, code: str | None) -> list[str]:
    lines: list[str] = []
    if rng.random() < 0.25:
        lines += [rng.choice(KICKERS), ""]
    lines += [_title(rng), ""]
    if rng.random() < 0.15:
        lines += [f"——{rng.choice(AGENCIES)}{rng.choice(TOPICS)}工作纪实", ""]
    lead = _byline(rng)
    if rng.random() < 0.7:
        lead += f"{_md(issue - timedelta(days=1))},"
    paragraphs = [lead + _paragraph(rng)] + [_paragraph(rng) for _ in range(rng.randint(2, 6))]
    if code is not None:
        paragraphs[-1] += code
    for k, paragraph in enumerate(paragraphs):
        if rng.random() < 0.15 and k + 1 < len(paragraphs):
            lines += _cut(paragraph, rng)
        else:
            lines.append(paragraph)
        lines.append("")
    return lines


def _photo(rng: random.Random, issue: date, code: str) -> list[str]:
    caption = f"{_md(issue - timedelta(days=1))},记者在{rng.choice(PLACES)}看到,{_clause(rng)},{_clause(rng)}。"
    return ["", "", caption + f"{code} 记者 {rng.choice(REPORTERS)} 摄", ""]


def _commentary(rng: random.Random) -> list[str]:
    lines = ["", "", f"莫让{rng.choice(TOPICS)}流于形式", "", "□ " + " ".join(rng.sample(AUTHORS, 2)), ""]
    for _ in range(rng.randint(3, 5)):
        lines += [_paragraph(rng), ""]
    return lines


def page_text(issue: date, page: int, seed: int) -> tuple[str, PrintedBulletin | None]:
    """The text of one page (LF line ends) and the bulletin it prints, if any."""
    rng = random.Random(f"{seed}:page:{issue.isoformat()}:{page}")
    code = f"{chr(0x2460 + page - 1)}{rng.randint(1, 9)}" if page <= 20 else None
    lines = ["", SECTIONS[(page - 1) % len(SECTIONS)], ""]
    printed = bulletin_on(issue, page, seed)
    items = rng.randint(3, 6) - (2 if printed else 0)
    for k in range(max(items, 1)):
        roll = rng.random()
        if k > 0 and roll < 0.12:
            lines += _photo(rng, issue, code or "")
        elif k > 0 and roll < 0.2:
            lines += _commentary(rng)
        else:
            lines += _news(rng, issue, code if rng.random() < 0.6 else None)
    if printed is not None:
        lines += ["", "", *_bulletin_lines(printed, rng)]
    return "\n".join(lines), printed


def page_bytes(issue: date, page: int, seed: int) -> tuple[bytes, PrintedBulletin | None]:
    """The page as a file: UTF-8 mostly; a few pages full-width, a few GB18030 with CRLF."""
    text, printed = page_text(issue, page, seed)
    rng = random.Random(f"{seed}:file:{issue.isoformat()}:{page}")
    if rng.random() < FULL_WIDTH_SHARE:
        text = text.translate(_FULL_WIDTH)
    if rng.random() < GB18030_SHARE:
        return text.replace("\n", "\r\n").encode("gb18030"), printed
    return text.encode("utf-8"), printed


def page_name(issue: date, page: int) -> str:
    """Where a page goes under the corpus folder: YYYY/MM/YYYY-MM-DD_pNN.txt."""
    return f"{issue:%Y}/{issue:%m}/{issue.isoformat()}_p{page:02d}.txt"


def days_in_years(start: date, years: int) -> int:
    """The number of days from `start` to the same day `years` later."""
    return (start.replace(year=start.year + years) - start).days


@dataclass
class CorpusStats:
    pages: int = 0
    bytes: int = 0
    bulletins: int = 0
    corrections: int = 0


def pages(start: date, days: int, pages_per_day: int) -> Iterator[tuple[date, int]]:
    """(issue date, page number) of every page in the range, in order."""
    for n in range(days):
        for page in range(1, pages_per_day + 1):
            yield start + timedelta(days=n), page


def write_corpus(out: Path, *, start: date, days: int, pages_per_day: int, seed: int) -> CorpusStats:
    """Write the pages of `days` days from `start` under `out`, one at a time."""
    stats = CorpusStats()
    for issue, page in pages(start, days, pages_per_day):
        data, printed = page_bytes(issue, page, seed)
        path = out / page_name(issue, page)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        stats.pages += 1
        stats.bytes += len(data)
        if printed is not None:
            stats.bulletins += 1
            stats.corrections += printed.corrected
    return stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--days", type=int, default=None, help="a number of days instead of --years")
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--pages-per-day", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    days = args.days if args.days is not None else days_in_years(args.start, args.years)
    stats = write_corpus(args.out, start=args.start, days=days, pages_per_day=args.pages_per_day, seed=args.seed)
    print(
        f"{stats.pages} pages, {stats.bytes / 1e6:.1f} MB, {stats.bulletins} bulletins "
        f"({stats.corrections} corrected reprints) under {args.out}"
    )


if __name__ == "__main__":
    main()
