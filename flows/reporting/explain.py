"""`bulletins explain FILE`: how one file is read, step by step, without writing anything.

The tool a person uses to add a city (docs/reference.md: Adding a city): what the file decodes to,
the blocks and tables found on the page (with their lines), which format claimed each
bulletin or why none did, the figures and every check with what it compared, the issue
date and where it came from, and the status the inbox would record. The file is read the
way the inbox reads it (`flows.inputs.parse_input`); nothing is written anywhere.

`explain` returns plain data (what `--format json` prints); `render_text` words it for a
terminal, Chinese labels with the English identifiers beside them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flows.inputs import parse_input
from flows.inputs.read import kind_of, read_input
from flows.parsing.check_details import describe_failures
from flows.parsing.checks import HEADLINE_FIGURES
from flows.parsing.decode import Decoded, decode
from flows.parsing.formats import FORMATS
from flows.parsing.normalize import to_lines
from flows.parsing.records import Bulletin, ParsedPage, Rejection
from flows.warehouse.ingest import file_status

FIRST_LINES = 8  # non-blank lines of the decoded text shown
TITLE_CHARS = 40  # of a block's title or first line, shown
LINE_CHARS = 80  # of each first line, in the text output (the JSON has them whole)

# Checks whose numbers read the same passed or failed ("rows sum to 131, the bulletin prints 131").
ARITHMETIC_CHECKS = frozenset(
    {"components_sum_to_due", "closure_rate_matches", "units_sum_to_overdue", "unit_count_matches"}
)

# Where an issue date came from, in the words the report uses.
_DATE_SOURCES = {
    "file_name": "文件名 file name",
    "page": "页面日期行 date line on the page",
    "inferred": "推断 inferred",
}


def _decoded(file_name: str, data: bytes) -> tuple[str, Decoded | Rejection]:
    """The file's kind and its text as the parser gets it (or why there is none)."""
    page = read_input(file_name, data)
    if page is None:
        return "text", decode(data)
    if isinstance(page, Rejection):
        return kind_of(file_name, data), page
    return page.kind, Decoded(page.text, page.encoding, page.warnings)


def _figures(b: Bulletin) -> dict[str, Any]:
    """The bulletin's figures that were read (None: not printed or not read)."""
    names = ("period_label", "period_start", "period_end", *HEADLINE_FIGURES, "as_of")
    return {name: getattr(b, name) for name in names}


def _checks(b: Bulletin) -> list[dict[str, Any]]:
    """Every check of the bulletin's format, in order: passed or failed, with what it compared.

    A failed check's detail is the one the format recorded (with its lines); a passed
    arithmetic check of the shared checks (`flows.parsing.checks`) shows its numbers too.
    """
    fmt = next((f for f in FORMATS if f.name == b.format), None)
    names = list(fmt.check_names) if fmt is not None else list(b.failed_checks)
    names += [n for n in b.failed_checks if n not in names]
    details = dict(zip(b.failed_checks, b.check_details, strict=False))
    out = []
    for name in names:
        passed = name not in b.failed_checks
        if not passed:
            detail = details.get(name, name).partition(": ")[2] or None
        elif b.format == "zhumadian_weekly" and name in ARITHMETIC_CHECKS:
            detail = describe_failures(b, [name])[0].partition(": ")[2] or None
        else:
            detail = None
        out.append({"name": name, "passed": passed, "detail": detail})
    return out


def explain(file_name: str, data: bytes) -> dict[str, Any]:
    """How the inbox would read `data` named `file_name`: plain data, nothing written.

    >>> out = explain("x.txt", b"\\x00\\x01binary")
    >>> out["status"], out["decoded"]
    ('quarantined', {'rejection': 'not text', 'detail': 'NUL bytes near the start: a binary file'})
    """
    out: dict[str, Any] = {
        "file": {
            "name": file_name,
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    }
    kind, decoded = _decoded(file_name, data)
    out["file"]["kind"] = kind
    result = parse_input(file_name, data)
    status, reasons = file_status(result)
    if isinstance(decoded, Rejection) or isinstance(result, Rejection):
        rejection = result if isinstance(result, Rejection) else decoded
        assert isinstance(rejection, Rejection)
        out["decoded"] = {"rejection": rejection.reason, "detail": rejection.detail}
        out["status"], out["reasons"] = status, reasons
        return out
    lines = to_lines(decoded.text)
    text_lines = [line for line in lines if line.text]
    out["decoded"] = {
        "encoding": decoded.encoding,
        "lines": len(lines),
        "first_lines": [[line.no, line.text] for line in text_lines[:FIRST_LINES]],
        "warnings": list(decoded.warnings),
    }
    page: ParsedPage = result
    out["issue_date"] = {"date": page.issue_date, "source": page.issue_date_source}
    out["section"] = page.section
    out["blocks"] = [
        {
            "seq": a.seq,
            "kind": a.kind,
            "title": a.title,
            "line_start": a.line_start,
            "line_end": a.line_end,
            "first_text": (a.title or a.body.split("\n", 1)[0])[:TITLE_CHARS],
        }
        for a in page.articles
    ]
    out["tables"] = [
        {
            "table_no": k,
            "layout": t.layout,
            "header": list(t.header),
            "rows": len(t.rows),
            "line_start": t.line_start,
            "line_end": t.line_end,
            "describe": t.describe(),
            "first_row": [c.text for c in t.rows[0]] if t.rows else [],
        }
        for k, t in enumerate(page.tables, start=1)
    ]
    out["formats"] = [
        {
            "format": fmt.name,
            "city": fmt.city,
            "claimed": [[lines[s.start].no, lines[s.end].no] for s in fmt.recognise(lines)],
        }
        for fmt in FORMATS
    ]
    out["bulletins"] = [
        {
            "seq": b.seq,
            "format": b.format,
            "city": b.city,
            "line_start": b.line_start,
            "line_end": b.line_end,
            "figures": _figures(b),
            "unit_rows": len(b.units),
            "checks": _checks(b),
        }
        for b in page.bulletins
    ]
    out["unknown_bulletins"] = [
        {"title": u.title or None, "line_no": u.line_no, "seen": list(u.seen)} for u in page.unknown_bulletins
    ]
    if not page.bulletins:
        out["why_no_format"] = (
            "no format found its title or signature on the page (README: Cities and their bulletin formats)"
            + ("; it looks like a bulletin of another layout: see unknown_bulletins" if page.unknown_bulletins else "")
        )
    out["status"], out["reasons"] = status, reasons
    return out


def _value(value: Any) -> str:
    return "—" if value is None else str(value)


def render_text(out: dict[str, Any]) -> str:
    """The explanation as lines for a terminal: Chinese labels, English identifiers."""
    f = out["file"]
    lines = [f"文件 file: {f['name']} ({f['size_bytes']} bytes, {f.get('kind', '?')}, sha256 {f['sha256'][:16]}…)"]
    decoded = out["decoded"]
    if "rejection" in decoded:
        lines.append(f"解码 decoded: 无法读取 not read — {decoded['rejection']}: {decoded['detail']}")
    else:
        lines.append(f"解码 decoded: {decoded['encoding']}, {decoded['lines']} 行 lines")
        lines.append("  前几行 first lines:")
        lines += [
            f"    {no:>4}  {text[:LINE_CHARS]}{'…' if len(text) > LINE_CHARS else ''}"
            for no, text in decoded["first_lines"]
        ]
        lines += [f"  注意 warning: {w}" for w in decoded["warnings"]]
        issue = out["issue_date"]
        source = _DATE_SOURCES.get(issue["source"], _value(issue["source"]))
        lines.append(f"刊发日期 issue_date: {_value(issue['date'])}（来源 source: {source}）")
        lines.append(f"版面 section: {_value(out['section'])}")
        lines.append(f"版块 blocks: {len(out['blocks'])}")
        for b in out["blocks"]:
            lines.append(
                f"  {b['seq']:>3} {b['kind']:<10} 行 lines {b['line_start']}-{b['line_end']}  {b['first_text']}"
            )
        lines.append(f"表格 tables: {len(out['tables'])}")
        for t in out["tables"]:
            lines.append(
                f"  {t['table_no']:>3} {t['layout']:<13} 行 lines {t['line_start']}-{t['line_end']}  {t['describe']}"
            )
        lines.append("格式 formats:")
        for fmt in out["formats"]:
            claimed = ", ".join(f"{a}-{b}" for a, b in fmt["claimed"])
            what = f"认领 claimed lines {claimed}" if claimed else "未认领 claimed nothing"
            lines.append(f"  {fmt['format']} ({fmt['city']}): {what}")
        if "why_no_format" in out:
            lines.append(f"  没有通报 no bulletin read: {out['why_no_format']}")
        for b in out["bulletins"]:
            lines.append(
                f"通报 bulletin {b['seq']}: {b['format']} ({b['city']}), 行 lines {b['line_start']}-{b['line_end']}, "
                f"{b['unit_rows']} 单位行 unit rows"
            )
            figures = ", ".join(f"{k}={_value(v)}" for k, v in b["figures"].items())
            lines.append(f"  数字 figures: {figures}")
            lines.append("  校验 checks:")
            for c in b["checks"]:
                mark = "通过 ok    " if c["passed"] else "未通过 FAIL"
                lines.append(f"    {mark} {c['name']}" + (f": {c['detail']}" if c["detail"] else ""))
        for u in out["unknown_bulletins"]:
            title = f"{u['title']} (line {u['line_no']})" if u["title"] else f"line {u['line_no']}"
            seen = f"; seen: {', '.join(u['seen'])}" if u["seen"] else ""
            lines.append(f"未知格式 unknown bulletin format: {title}{seen}")
    lines.append(f"状态 status: {out['status']}")
    lines += [f"  原因 reason: {r}" for r in out["reasons"]]
    return "\n".join(lines)
