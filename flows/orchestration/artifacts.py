"""The run's Prefect artifacts: what `flows.reporting` builds, published to Prefect.

- table `unit-week-performance`: the latest week's units, in the weekly report's wording
  (Chinese headers, 56.45%, +2, +1.45 个百分点, 新上榜 / 连续上榜 / 退出);
- markdown `bulletin-etl-summary`, in Chinese: warnings, files by status, bulletins left
  out of the marts and why, the city's latest closure rate and its change in points;
- markdown `weekly-report` and link `weekly-report-html`: the newest weekly report the
  run wrote (none when it wrote none). The link is `http://<host>:<port>/reports/<file>`
  while `bulletins serve` serves the reports folder (`report_server`): it opens from the
  Prefect UI and from another machine; else the file's `file://` address.
"""

from __future__ import annotations

from collections.abc import Set
from pathlib import Path

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from flows.orchestration.report_server import report_url
from flows.reporting.run_summary import UNIT_TABLE_HEADERS, read_run_report
from flows.settings import InboxLocation
from flows.text.escape import markdown, visible
from flows.warehouse.summary import RunSummary

UNIT_TABLE_KEY = "unit-week-performance"
SUMMARY_KEY = "bulletin-etl-summary"
WEEKLY_REPORT_KEY = "weekly-report"
WEEKLY_REPORT_LINK_KEY = "weekly-report-html"


def publish_run_artifacts(
    db_path: Path, summary: RunSummary, inbox: InboxLocation | None = None, listed: Set[str] | None = None
) -> None:
    """Publish the run's table and markdown artifacts (call inside the flow run); `listed`:
    the paths the run's walk of the inbox found (`gone_from_inbox`)."""
    table, summary_markdown = read_run_report(db_path, summary, inbox, listed)
    week = table[0][UNIT_TABLE_HEADERS["week_start"]] if table else None
    create_table_artifact(
        # The UI shows a table's cells as text: only control characters need making visible.
        table=[{header: visible(value) for header, value in row.items()} for row in table],
        key=UNIT_TABLE_KEY,
        description=f"各单位本周表现（{week} 起的一周），按分组、排名。"
        if week
        else "各单位本周表现：尚无已发布的周。",
    )
    create_markdown_artifact(
        markdown=summary_markdown,
        key=SUMMARY_KEY,
        description="本次运行：提醒、各状态文件数、未计入统计表的通报及原因、各城市结案率。",
    )
    if summary.reports:
        publish_weekly_report(Path(summary.reports[-1]))


def publish_weekly_report(html_path: Path) -> None:
    """The report's Markdown as an artifact, and a link to its HTML page (http:// while `serve` serves it)."""
    markdown_path = html_path.with_suffix(".md")
    week = html_path.stem.removeprefix("report-")
    link = report_url(html_path)
    create_markdown_artifact(
        markdown=markdown_path.read_text(encoding="utf-8"),
        key=WEEKLY_REPORT_KEY,
        # Descriptions render as Markdown; the path holds the city's name, read from a page.
        description=markdown(f"周报：{week} 起的一周（HTML 版含图表：{link}）"),
    )
    create_link_artifact(
        link=link,
        # Served: its address; else the file's path as it reads (a folder's name, not %-escapes).
        link_text=markdown(link if link.startswith("http") else html_path.resolve()),
        key=WEEKLY_REPORT_LINK_KEY,
        description=markdown(f"周报 HTML（{week} 起的一周）：一个文件，离线可打开、可转发、可打印。"),
    )
