"""Typed records the parser returns: the one definition of what a parsed page holds.

Pure data: no Prefect, no DuckDB. `flows.warehouse.schema` maps these onto the lake's Arrow
schemas; keep the two in step (tests/test_layers.py checks the field names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from flows.parsing.page_tables import PageTable
from flows.parsing.tables import Table as SourceTable

ArticleKind = Literal["news", "photo", "commentary", "bulletin"]
IssueDateSource = Literal["file_name", "page", "inferred"]
# What a bulletin's period is: a week (the weekly lists), a calendar month or quarter
# (monthly and quarterly scorecards, Sanmenxia's 月报).
PeriodKind = Literal["week", "month", "quarter"]
ScoreList = Literal["good", "bad", "none"]
RejectionReason = Literal[
    "empty",
    "not text",
    "undecodable",
    # A file read by `flows.inputs` (web page, Word, Excel, PDF, image) it cannot turn into
    # text: each detail says what to do, in English and Chinese.
    "no text layer",  # an image or a scanned PDF: needs OCR
    "encrypted",  # a PDF with a password
    "unsupported format",  # old binary Word/Excel (.doc, .xls)
    "unreadable",  # broken, or past a bound (unpacked size, cells, pages)
    "parser error",
]  # the last: a bug, caught at the pipeline boundary


@dataclass(frozen=True, slots=True)
class Article:
    """One item on the page, in page order."""

    seq: int  # 1-based position on the page
    section: str | None  # the page's section name (时政要闻)
    kind: ArticleKind
    kicker: str | None  # 引题 above the title
    title: str | None
    subtitle: str | None
    reporters: tuple[str, ...]  # 记者 in the byline
    correspondents: tuple[str, ...]  # 通讯员 in the byline
    photographers: tuple[str, ...]  # "记者 张新义 摄"
    authors: tuple[str, ...]  # commentary authors after □
    event_date: date | None  # from the lead (12月22日), year resolved from the issue
    body: str  # normalised paragraphs, rejoined across column breaks, "\n" between
    editor_code: str | None  # "②6" as printed, taken off the body
    original_text: str  # the item's lines as decoded, before normalisation (audit)
    line_start: int  # 1-based line numbers in the decoded file (lineage)
    line_end: int


@dataclass(frozen=True, slots=True)
class BulletinUnitRow:
    """One row of a bulletin's unit table."""

    unit_group: str  # 市辖区(管委会)组, 市直单位及企业组 (normalised)
    unit_name_raw: str  # the name as printed (after NFKC, whitespace trimmed)
    dispatched: int | None  # 交办件; None when the cell is missing
    unresolved: int | None  # 未办结件; None when the cell is missing
    row_no: int  # 1-based order across the whole bulletin
    line_no: int  # 1-based line in the decoded file
    # Printed by some formats only (Sanmenxia: 完成数, 完成率/结案率); None where not printed.
    closed: int | None = None  # cases the unit completed
    closure_rate_published: Decimal | None = None  # closed / dispatched as printed, 0..1


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """One unit's line of a scorecard: 名称(98.42分)(优秀等次); a line naming several units
    that share one score (甲、乙、丙(100分)) gives one row per unit."""

    unit_group: str  # the group as printed (县、市组, 建成区组, 市直及企事业单位组, ...)
    unit_name_raw: str  # the name as printed (after NFKC, whitespace trimmed)
    score: Decimal | None  # 分 as printed; None for 无数据 (no data, never 0)
    grade: str | None  # 优秀/良好/合格/不合格 (等次) as printed; None where none is printed
    rank: int | None  # 1-based within the group, ties share one (rank()); None where unknown
    score_list: ScoreList  # the group's 处置好 (good) or 处置差 (bad) list, or none
    no_data: bool  # printed 无数据
    row_no: int  # 1-based order across the whole bulletin
    line_no: int  # 1-based line in the decoded file


@dataclass(frozen=True, slots=True)
class Bulletin:
    """One weekly bulletin with its figures, tables and failed checks."""

    seq: int  # 1-based order of bulletins in the file
    article_seq: int  # the Article (kind='bulletin') it was read from
    format: str  # the format module that read it, e.g. "zhumadian_weekly"
    city: str  # the publishing city, from the format (驻马店, 三门峡)
    period_label: str | None  # the publisher's own label of the period (2021第7期); None if none printed
    period_start: date | None
    period_end: date | None
    received: int | None
    due: int | None
    closed: int | None
    in_progress: int | None
    overdue: int | None
    disputed: int | None
    closure_rate_published: Decimal | None  # 0..1, exact: 90.58% -> Decimal("0.9058")
    linked_units: int | None
    overdue_units: int | None
    as_of: datetime | None  # 截至12月20日18时 -> 2020-12-20 18:00 (local, naive)
    units: tuple[BulletinUnitRow, ...]
    failed_checks: tuple[str, ...]  # names of failed checks; empty = clean
    line_start: int
    line_end: int
    period_kind: PeriodKind = "week"  # week; month or quarter for scorecards and 月报
    scores: tuple[ScoreRow, ...] = ()  # a scorecard's unit scores (Xuchang); empty for the weekly lists
    # One line per failed check, in failed_checks' order, with the numbers and the line it
    # compared: "units_sum_to_overdue: rows sum to 41, the bulletin prints 38 (line 57)".
    check_details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UnknownBulletin:
    """Text that looks like a city-management bulletin that no format claims."""

    title: str  # the line taken as its title (normalised); "" when only its content was seen
    line_no: int  # 1-based line of that title (or of the first thing seen) in the decoded file
    # What was seen of it: unit tables and score lists, each with its line
    # ("table 部门|派遣数|完成数… of 12 rows at line 40"); empty when only the title was.
    seen: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line: the title and its line, then what was seen.

        >>> UnknownBulletin("某市数字城管运行情况通报", 3, ("score list of 5 units at line 9",)).describe()
        '某市数字城管运行情况通报 (line 3); seen: score list of 5 units at line 9'
        """
        if not self.title:
            return ", ".join(self.seen)
        seen = f"; seen: {', '.join(self.seen)}" if self.seen else ""
        return f"{self.title} (line {self.line_no}){seen}"


@dataclass(frozen=True, slots=True)
class ParsedPage:
    """A page read successfully (possibly with bulletins that failed checks)."""

    encoding: str  # "utf-8", "utf-8-sig", "gb18030", "utf-16-le" ...; "html:gb18030", "docx", "xlsx", "pdf"
    issue_date: date | None
    issue_date_source: IssueDateSource | None
    section: str | None
    articles: tuple[Article, ...]
    bulletins: tuple[Bulletin, ...]
    warnings: tuple[str, ...] = field(default=())  # non-fatal notes about the page
    # bulletins no format can read yet: their text is loaded as articles, nothing else
    unknown_bulletins: tuple[UnknownBulletin, ...] = field(default=())
    # every table found in the page's lines (flows.parsing.page_tables), in page order
    tables: tuple[PageTable, ...] = field(default=())
    # the tables of a web page, Word, Excel or PDF file as the file holds them (spans, each
    # cell's source position, the page line of each row: flows.parsing.tables); empty for text
    source_tables: tuple[SourceTable, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Rejection:
    """Nothing usable in the file: the reason says why."""

    reason: RejectionReason
    detail: str
    encoding: str | None = None
