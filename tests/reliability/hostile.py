"""Hostile inbox entries for the reliability suite: mutations of the real sample, each with its truth.

Every page is the real sample (tests/fixtures/pages/000_3e19ef32d54e8472.txt) with its
bulletin re-rendered for another week and other figures, in the sample's own layout
(`render_bulletin` gives the sample back byte for byte from its own figures), then
mutated the way a misprint, a bad extraction or a hostile user would. Each entry
carries its truth: the figures a correct warehouse may publish for it, or none when no
figure of it may reach the marts. Odd entries (links, FIFOs, hidden and non-UTF-8
names, a file over the size limit) come beside the pages. Deterministic by seed.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from testdata import SAMPLE_PAGE

from flows.devtools.synth import CITY_UNITS, DISTRICTS, SIGNATURE, PrintedUnitRow, Week
from flows.warehouse.inbox_walk import display_path

SAMPLE = SAMPLE_PAGE.read_text(encoding="utf-8")
TITLE = "驻马店市数字化城市管理案件办理后进单位周通报"
# The sample's page up to its bulletin: seven articles, kept as they are.
ARTICLES = SAMPLE[: SAMPLE.index(TITLE)]
# The sample's units in its order; and one alias of each that has one in the seed.
UNITS = (
    (DISTRICTS, "驿城区政府"),
    (DISTRICTS, "经济开发区管委会"),
    (DISTRICTS, "市城乡一体化示范区管委会"),
    (CITY_UNITS, "中国电信驻马店分公司"),
    (CITY_UNITS, "中一市政建设管理有限公司"),
    (CITY_UNITS, "市豫资市政设施管理有限公司"),
    (CITY_UNITS, "河南移动驻马店分公司"),
    (CITY_UNITS, "国电驻马店热电有限公司"),
    (CITY_UNITS, "中国联通驻马店分公司"),
)
ALIASES = {
    "驿城区政府": "驿城区人民政府",
    "经济开发区管委会": "驻马店经济开发区管委会",
    "中国电信驻马店分公司": "电信驻马店分公司",
    "河南移动驻马店分公司": "中国移动驻马店分公司",
    "中国联通驻马店分公司": "联通驻马店分公司",
}
FIGURES = ("received", "due", "closed", "in_progress", "overdue", "disputed", "linked_units", "overdue_units")


@dataclass(frozen=True)
class Truth:
    """What a correct warehouse may publish from a page: its week and figures, or nothing."""

    publishable: bool
    mutation: str
    week: Week | None = None

    def figures(self) -> dict[str, object]:
        assert self.week is not None
        w = self.week
        return {
            "week_start": w.start,
            "week_end": w.end,
            "received": w.received,
            "due": w.due,
            "closed": w.closed,
            "in_progress": w.in_progress,
            "overdue": w.overdue,
            "disputed": w.disputed,
            "closure_rate_published": w.closure_rate / 100,
            "linked_units": w.linked_units,
            "overdue_units": w.overdue_units,
        }

    def units(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(group, canonical unit name) -> (dispatched, unresolved)."""
        assert self.week is not None
        canonical = {alias: name for name, alias in ALIASES.items()}
        return {(g, canonical.get(name, name)): (d, u) for g, name, d, u in self.week.units}


@dataclass
class Entry:
    """One inbox entry to create: a file (bytes), a link, a FIFO, a folder."""

    name: bytes  # path relative to the inbox, as bytes (may not be UTF-8)
    kind: str  # "file", "link", "fifo", "folder"
    data: bytes = b""
    target: str = ""  # a link's target
    truth: Truth | None = None  # pages only
    expect: str = ""  # the status it must end in (core.files); "" for what is no entry (a folder's content)

    @property
    def path(self) -> str:
        """The path the warehouse records it under (a name that is not UTF-8 escaped)."""
        return display_path(os.fsdecode(self.name))[0]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _md(d: date) -> str:
    return f"{d.month}月{d.day}日"


def render_bulletin(w: Week, period: str | None = None) -> str:
    """The bulletin in the sample's layout (line breaks, tabs, the column break mid-sentence)."""
    period = period or f"{w.start.year}年{_md(w.start)}~{_md(w.end)}"
    lines = [
        TITLE,
        "",
        f"{period},驻马店市智慧城市管理中心通过采集员、网格员采集上报、视频抓拍、市民举报、领导交办等途径"
        f"受理各类城市管理案件{w.received}件,本周应结案{w.due}件,其中已结案{w.closed}件、正在办理中{w.in_progress}件、",
        "",
        f"超时未办结{w.overdue}件,因确权争议未处置案件共{w.disputed}件,结案率{w.closure_rate}%,所有案件均通过数字城管系统"
        f"派单交办至{w.linked_units}个联动单位,经采集员核查,截至{_md(w.end)}18时,存在超时未办结案件的单位共"
        f"{w.overdue_units}个,详细情况如下:",
        "",
        f"数字城管周报({_md(w.start)}~{_md(w.end)})",
        "",
    ]
    first = True
    for group in (DISTRICTS, CITY_UNITS):
        rows = [u for u in w.units if u[0] == group]
        if not rows:
            continue
        lines += [f"{group}\t\t"] if first else [group, ""]
        lines += ["单位\t交办件\t未办结件"]
        lines += [f"{name}\t{d}件\t{u}件" for _, name, d, u in rows]
        lines += [f"{SIGNATURE}\t\t"] + ([""] if first else [])
        first = False
    return "\n".join(lines)


SAMPLE_WEEK = Week(
    date(2020, 12, 14),
    4852,
    5723,
    232,
    176,
    18,
    (
        PrintedUnitRow(DISTRICTS, "驿城区政府", 1013, 8),
        PrintedUnitRow(DISTRICTS, "经济开发区管委会", 503, 6),
        PrintedUnitRow(DISTRICTS, "市城乡一体化示范区管委会", 16, 5),
        PrintedUnitRow(CITY_UNITS, "中国电信驻马店分公司", 68, 68),
        PrintedUnitRow(CITY_UNITS, "中一市政建设管理有限公司", 18, 18),
        PrintedUnitRow(CITY_UNITS, "市豫资市政设施管理有限公司", 15, 13),
        PrintedUnitRow(CITY_UNITS, "河南移动驻马店分公司", 55, 9),
        PrintedUnitRow(CITY_UNITS, "国电驻马店热电有限公司", 6, 3),
        PrintedUnitRow(CITY_UNITS, "中国联通驻马店分公司", 59, 1),
    ),
)


def page(w: Week, period: str | None = None) -> str:
    return ARTICLES + render_bulletin(w, period)


def random_week(rng: random.Random, start: date, big: bool = False) -> Week:
    """A week of figures whose identities hold; units from the sample's, in its order."""
    scale = 100_000 if big else 1
    units = []
    for group, name in UNITS:
        if rng.random() < 0.7 or (group == DISTRICTS and name == "驿城区政府"):
            dispatched = rng.randint(1, 1200) * scale
            units.append(PrintedUnitRow(group, name, dispatched, rng.randint(0, min(dispatched, 80 * scale))))
    if not any(u[0] == CITY_UNITS for u in units):
        units.append(PrintedUnitRow(CITY_UNITS, "中国电信驻马店分公司", 70 * scale, 61 * scale))
    overdue = sum(u[3] for u in units)
    in_progress, disputed = rng.randint(100, 300) * scale, rng.randint(100, 200) * scale
    due = overdue + in_progress + disputed + rng.randint(3000, 6000) * scale
    return Week(start, rng.randint(3000, 6000) * scale, due, in_progress, disputed, rng.randint(10, 30), tuple(units))


# --------------------------------------------------------------------------- mutations
# Each takes (rng, week, text of the clean page) and returns (text, publishable, week as published).


def _clean(rng, w, text):
    return text, True, w


def _alias_only(rng, w, text):
    """A unit printed under its alias: publishable, on its canonical name."""
    printed = [PrintedUnitRow(g, ALIASES.get(n, n), d, u) for g, n, d, u in w.units]
    w2 = Week(w.start, w.received, w.due, w.in_progress, w.disputed, w.linked_units, tuple(printed))
    return ARTICLES + render_bulletin(w2), True, w2


def _cut_table(rng, w, text):
    lines = text.split("\n")
    first_row = next(i for i, line in enumerate(lines) if line.startswith("单位\t")) + 1
    return "\n".join(lines[: rng.randint(first_row + 1, len(lines) - 2)]), False, None


def _unit_twice(rng, w, text, alias: bool = False, other_group: bool = False):
    """A unit listed twice (same name, or under its alias; in the same group or in both), every
    printed identity kept. Zhumadian's two groups are one list: twice in it either way."""
    g, n, d, u = w.units[0]
    half_d, half_u = max(d // 2, 1), u // 2
    second = ALIASES.get(n, n) if alias else n
    g2 = CITY_UNITS if other_group else g
    units = (PrintedUnitRow(g, n, d - half_d, u - half_u), PrintedUnitRow(g2, second, half_d, half_u), *w.units[1:])
    if d - half_d < u - half_u or half_d < half_u:
        units = (PrintedUnitRow(g, n, d, u), PrintedUnitRow(g2, second, d, u), *w.units[1:])
    w2 = Week(w.start, w.received, w.due + sum(x[3] for x in units) - w.overdue, w.in_progress, w.disputed,
              w.linked_units, units)  # fmt: skip
    return ARTICLES + render_bulletin(w2), False, None


def _unit_alias_twice(rng, w, text):
    return _unit_twice(rng, w, text, alias=True)


def _unit_in_both_groups(rng, w, text):
    return _unit_twice(rng, w, text, other_group=True)


def _unit_moved(rng, w, text):
    """A unit printed in the other group this week: publishable (one list), in the group printed."""
    movable = [i for i, (g, *_) in enumerate(w.units) if sum(1 for x in w.units if x[0] == g) > 1]
    if not movable:
        return text, True, w
    i = rng.choice(movable)
    g, n, d, u = w.units[i]
    moved = PrintedUnitRow(CITY_UNITS if g == DISTRICTS else DISTRICTS, n, d, u)
    units = [x for j, x in enumerate(w.units) if j != i]
    # at the end of its new group, so the groups stay in the sample's order
    at = max((j + 1 for j, x in enumerate(units) if x[0] == moved[0]), default=len(units))
    w2 = Week(w.start, w.received, w.due, w.in_progress, w.disputed, w.linked_units, (*units[:at], moved, *units[at:]))
    return ARTICLES + render_bulletin(w2), True, w2


def _number_edit(rng, w, text, how: str):
    """A number in the bulletin (a figure or a cell) spaced, signed or made huge."""
    start = text.index(TITLE)
    numbers = [m for m in re.finditer(r"\d{2,}(?=件)", text) if m.start() > start]
    m = rng.choice(numbers)
    digits = m.group()
    if how in ("space", "comma"):
        cut = rng.randint(1, len(digits) - 1)
        new = digits[:cut] + (" " if how == "space" else ",") + digits[cut:]
    elif how == "sign":
        new = "-" + digits
    else:
        new = str(rng.randint(10**9, 10**12))
    return text[: m.start()] + new + text[m.end() :], False, None


def _spaced(rng, w, text):
    return _number_edit(rng, w, text, "space")


def _signed(rng, w, text):
    return _number_edit(rng, w, text, "sign")


def _huge(rng, w, text):
    return _number_edit(rng, w, text, "huge")


def _comma(rng, w, text):
    return _number_edit(rng, w, text, "comma")


def _misprint(rng, w, text):
    """One figure an identity covers printed off by 1-9 (closed, due, a unit's unresolved, the unit count...)."""
    covered = [
        m
        for m in re.finditer(r"(应结案|已结案|办理中|未办结|争议未处置案件共|的单位共)(\d+)|\t\d+件\t(\d+)件", text)
        if m.start() > text.index(TITLE)
    ]
    m = rng.choice(covered)
    group = 2 if m.group(2) else 3
    value = int(m.group(group))
    new = value + rng.choice([d for d in range(-9, 10) if d and value + d >= 0])
    return text[: m.start(group)] + str(new) + text[m.end(group) :], False, None


def _misprint_received(rng, w, text):
    """Cases received printed off: no identity covers it, so it is published as printed."""
    received = w.received + rng.randint(1, 99)
    w2 = Week(w.start, received, w.due, w.in_progress, w.disputed, w.linked_units, w.units)
    return ARTICLES + render_bulletin(w2), True, w2


_FULL_WIDTH = str.maketrans("0123456789%.~()", "０１２３４５６７８９％．～（）")


def _full_width(rng, w, text):
    """The bulletin's digits and punctuation full-width, as some extractions give: read as the same figures."""
    at = text.index(TITLE)
    return text[:at] + text[at:].translate(_FULL_WIDTH), True, w


def _big_consistent(rng, w, text):
    """Figures of up to 9 digits, consistent: read as printed."""
    w2 = random_week(rng, w.start, big=True)
    return ARTICLES + render_bulletin(w2), True, w2


def _period_length(rng, w, text):
    end = w.start + timedelta(days=rng.randint(7, 30))
    return ARTICLES + render_bulletin(w, f"{w.start.year}年{_md(w.start)}~{_md(end)}"), False, None


def _period_weekday(rng, w, text):
    start = w.start + timedelta(days=rng.randint(1, 6))
    end = start + timedelta(days=6)
    return ARTICLES + render_bulletin(w, f"{start.year}年{_md(start)}~{_md(end)}"), False, None


def _period_year(rng, w, text):
    year = w.start.year + rng.choice((-1, 1, 70))
    return ARTICLES + render_bulletin(w, f"{year}年{_md(w.start)}~{_md(w.end)}"), False, None


MUTATIONS = {
    "clean": _clean,
    "alias_only": _alias_only,
    "big_consistent": _big_consistent,
    "cut_table": _cut_table,
    "unit_twice": _unit_twice,
    "unit_alias_twice": _unit_alias_twice,
    "unit_in_both_groups": _unit_in_both_groups,
    "unit_moved_group": _unit_moved,
    "spaced_number": _spaced,
    "signed_number": _signed,
    "huge_number": _huge,
    "comma_in_number": _comma,
    "misprinted_figure": _misprint,
    "misprinted_received": _misprint_received,
    "full_width": _full_width,
    "period_8_to_31_days": _period_length,
    "period_not_monday": _period_weekday,
    "period_year_misprinted": _period_year,
}
# Mutations whose page may come undated (a right period, in the sample's layout).
UNDATABLE = ("clean", "alias_only", "big_consistent", "misprinted_received", "full_width")
# Ways the bytes are written (the text being publishable or not as above).
PUBLISHABLE_ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "crlf")


def _encode(text: str, how: str) -> bytes:
    if how == "crlf":
        return text.replace("\n", "\r\n").encode("utf-8")
    return text.encode(how)


def _bad_bytes(rng: random.Random, data: bytes, bulletin_at: int) -> tuple[bytes, bool]:
    """1-3 undecodable bytes at random places; publishable only when none lands in the bulletin."""
    data = bytearray(data)
    inside = False
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(data))
        while at > 0 and (data[at] & 0xC0) == 0x80:  # not inside a UTF-8 character
            at -= 1
        data[at:at] = b"\xff"
        inside |= at >= bulletin_at
    return bytes(data), not inside


def pages(seed: int, count: int, first_week: date = date(2010, 1, 4), weeks: int = 400) -> list[Entry]:
    """`count` mutated pages (and a few exact copies), each with its truth."""
    rng = random.Random(seed)
    entries: list[Entry] = []
    names = list(MUTATIONS)
    for n in range(count):
        mutation = names[n % len(names)] if n < len(names) * 2 else rng.choice(names)
        # Undated pages (the issue date comes from the page, which also mentions 2090) only
        # with a right period in mid-December, as the sample's: its articles report 12月22日,
        # and with no date outside the bulletin a misprinted year could not be told.
        undated = mutation in UNDATABLE and rng.random() < 0.15
        if undated:
            december = date(first_week.year + rng.randrange(max(weeks // 52, 1)), 12, 14)
            start = december - timedelta(days=december.weekday() + 7 * rng.randrange(3))
        else:
            start = first_week + timedelta(weeks=rng.randrange(weeks))
        week = random_week(rng, start)
        text, publishable, published = MUTATIONS[mutation](rng, week, page(week))
        encoding = rng.choice(PUBLISHABLE_ENCODINGS)
        data = _encode(text, encoding)
        label = f"{mutation}.{encoding}"
        if rng.random() < 0.08:  # a few bad bytes somewhere
            # the bulletin's figures start after its title line (a damaged title changes none)
            bulletin_at = len(_encode(text[: text.index(TITLE) + len(TITLE)], encoding))
            data, outside = _bad_bytes(rng, data, bulletin_at)
            publishable = publishable and outside
            label += ".bad_bytes"
        issue = week.end + timedelta(days=rng.randint(1, 10))
        if undated:
            # No date in the name, or one after the file was first seen (not to be believed).
            name = f"{rng.choice(('undated', '2090-03-12'))}_{n:04d}_{label}.txt"
            data += "\n\n本报将于2090年1月1日起改版。\n".encode("gb18030" if encoding == "gb18030" else "utf-8")
        else:
            name = f"{issue:%Y-%m-%d}_{n:04d}_{label}.txt"
        truth = Truth(publishable, label, published if publishable else None)
        entries.append(Entry(name.encode(), "file", data, truth=truth, expect="loaded" if publishable else "partial"))
        if rng.random() < 0.03:  # the same bytes again: a duplicate
            entries.append(Entry(f"zz_copy_{n:04d}.txt".encode(), "file", data, truth=truth, expect="duplicate"))
    return entries


def odd_entries(seed: int, limit: int, outside: Path) -> list[Entry]:
    """Entries that are not plain pages: each must end recorded by name."""
    rng = random.Random(seed)
    week = random_week(rng, date(2025, 3, 3))
    good = page(week).encode("utf-8")
    truth = Truth(True, "clean", week)
    gbk_week = random_week(rng, date(2025, 3, 10))
    huge = (SAMPLE + "\n\n") * (limit // len(SAMPLE.encode()) + 2)
    at_limit = (SAMPLE + "\n\n") * (limit // (len(SAMPLE.encode()) + 2))
    return [
        Entry(
            "odd/2025-03-20_数字城管.txt".encode("gbk"),
            "file",
            page(gbk_week).encode("gb18030"),
            truth=Truth(True, "clean, GBK name", gbk_week),
            expect="loaded",
        ),
        Entry(b"odd/2025-03-12_page.txt", "file", good, truth=truth, expect="loaded"),
        Entry(b"odd/link_to_passwd.txt", "link", target="/etc/passwd", expect="skipped"),
        Entry(b"odd/link_to_page.txt", "link", target="2025-03-12_page.txt", expect="skipped"),
        Entry(b"odd/link_out", "link", target=str(outside), expect="skipped"),
        Entry(b"odd/dangling.txt", "link", target="nowhere.txt", expect="skipped"),
        Entry(b"odd/loop_a.txt", "link", target="loop_b.txt", expect="skipped"),
        Entry(b"odd/loop_b.txt", "link", target="loop_a.txt", expect="skipped"),
        Entry(b"odd/pipe.txt", "fifo", expect="skipped"),
        Entry(b"odd/.swap.txt", "file", good, expect="skipped"),
        Entry(b"odd/.hidden_folder", "folder", expect="skipped"),
        Entry(b"odd/.hidden_folder/page.txt", "file", good),  # inside a hidden folder: not an entry
        Entry(b"odd/empty_folder", "folder"),
        Entry(b"odd/deep/er/2025-03-12_page_again.txt", "file", good, truth=truth, expect="duplicate"),
        Entry(b"odd/huge.txt", "file", huge.encode(), expect="quarantined"),
        Entry(
            b"odd/2020-12-23_at_the_limit.txt",
            "file",
            at_limit.encode(),
            truth=Truth(True, "sample repeated up to the size limit", SAMPLE_WEEK),
            expect="loaded",
        ),
        Entry(b"odd/empty.txt", "file", b"", expect="quarantined"),
        Entry(b"odd/binary.txt", "file", bytes(range(256)) * 8, expect="quarantined"),
        # Notepad's "Unicode": read since issue 17 (the same week, the same figures, another printing).
        Entry(b"odd/utf16.txt", "file", page(week).encode("utf-16"), truth=truth, expect="loaded"),
    ]


def create(inbox: Path, entries: list[Entry]) -> None:
    """Create the entries under the inbox (bytes paths: names need not be UTF-8)."""
    root = os.fsencode(inbox)
    for e in entries:
        path = os.path.join(root, e.name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if e.kind == "file":
            with open(path, "wb") as fh:
                fh.write(e.data)
        elif e.kind == "link":
            os.symlink(os.fsencode(e.target), path)
        elif e.kind == "fifo":
            os.mkfifo(path)
        else:
            os.makedirs(path, exist_ok=True)
