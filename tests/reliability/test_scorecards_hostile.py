"""Hostile scorecards (issue 17, item 4): a cut, huge or garbled scorecard ends in a named
failed check or a plain article, never a crash and never a wrong score in the marts."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from flows.parsing import ParsedPage, parse_file
from flows.warehouse.ingest import file_status

CITIES = Path(__file__).parent.parent / "fixtures" / "pages" / "cities"
TITLE = "许昌市数字化城市管理系统2021年11月份运行情况通报\n\n【信息时间:2021-12-08 09:34\n\n一、得分情况\n\n"


def _parse(text: str, name: str = "card.txt") -> ParsedPage:
    page = parse_file(name, text.encode("utf-8"))
    assert isinstance(page, ParsedPage)
    return page


def test_a_cut_scorecard_is_partial_with_its_check(reliability) -> None:
    text = (CITIES / "xuchang-2021-10-complete.txt").read_text(encoding="utf-8")
    cuts = [len(text) * k // 40 for k in range(1, 40)]
    statuses = set()
    for cut in cuts:
        page = _parse(text[:cut])
        for card in page.bulletins:
            # what was read before the cut is kept; a cut inside a score line is never a score
            assert all(s.score is None or Decimal(0) <= s.score <= 100 for s in card.scores)
        statuses.add(file_status(page)[0])
    assert statuses <= {"loaded", "partial"}
    reliability.record(
        "17 scorecard cut anywhere",
        f"the Xuchang scorecard cut at {len(cuts)} places (mid-title, mid-name, mid-score)",
        f"statuses {sorted(statuses)}; no crash; every score read is one printed whole",
        True,
    )


def test_a_huge_scorecard_is_read_in_bounded_time(reliability) -> None:
    units = reliability.scale(5_000, 50_000)
    shared = "、".join(f"并列单位{n}" for n in range(units // 5))
    lines = [f"单位{n}({100 - n * 100 / units:.2f}分)" for n in range(units)]
    text = TITLE + "(一)县、市组\n" + shared + "(100分)\n" + "\n".join(lines) + "\n"
    started = time.monotonic()
    (card,) = _parse(text).bulletins
    seconds = time.monotonic() - started
    assert len(card.scores) == units + units // 5
    # Competition ranking: the last unit's rank is one more than the units scoring above it
    # (at full scale 50,000 scores rounded to 2 decimals tie; at fast scale none do).
    last = card.scores[-1]
    assert last.rank == 1 + sum(s.score is not None and s.score > last.score for s in card.scores)
    assert card.scores[0].rank == 1
    assert seconds < 30
    reliability.record(
        "17 scorecard of many units",
        f"{units} score lines and one line of {units // 5} units sharing a score",
        f"read in {seconds:.1f} s, ranks tied then 1..n, checks {list(card.failed_checks)}",
        True,
    )


def test_garbled_score_lines_fail_a_named_check(reliability) -> None:
    cases = {
        "甲区(乙)(99分)": ("table_complete",),  # a parenthesis in a name: not read as a unit
        "甲区(999分)": ("scores_in_range",),
        "甲区(-5分)": ("table_complete",),
        "甲区(99.123456分)": ("table_complete",),  # more decimals than a score has
        "甲区(无数据)(优秀等次)": (),  # printed so: no score, the grade kept
        "甲区（９９分）（良好等次）": (),  # full width: NFKC reads it
        "甲区、、乙区(90分)": ("table_complete",),  # an empty name
        "甲区(90分)(优等次)": ("grades_known",),
    }
    for line, failed in cases.items():
        (card,) = _parse(TITLE + "(一)县、市组\n" + line + "\n丙区(1分)\n").bulletins  # 丙区: a sound line after it
        assert card.failed_checks == failed, line
    reliability.record(
        "17 scorecard garbled lines",
        f"{len(cases)} score lines: a name with parentheses, 999分, -5分, 6 decimals, an empty name, an unknown grade",
        "each fails a named check (table_complete, scores_in_range, grades_known) or reads as printed",
        True,
    )


def test_a_monthly_report_without_its_month_fails_period_parsed(reliability) -> None:
    text = (CITIES / "sanmenxia-2021m02-monthly.txt").read_text(encoding="utf-8")
    (report,) = _parse(text.replace("(2021第2期)2.01—2.28", "")).bulletins
    assert (report.period_kind, report.period_start, report.failed_checks[0]) == ("month", None, "period_parsed")
    reliability.record(
        "17 月报 without its month",
        "Sanmenxia's 月报 title with the 期 label and month removed",
        f"read as a month with failed checks {list(report.failed_checks)}: partial, out of the marts",
        True,
    )
