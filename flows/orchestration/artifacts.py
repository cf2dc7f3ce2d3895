"""The run's Prefect artifacts: what `flows.reporting` builds, published to Prefect.

- table `unit-week-performance`: the latest week's rows of `marts.unit_week_performance`;
- markdown `bulletin-etl-summary`: files by status, bulletins left out of the marts
  and why, the city's latest closure rate and its change in points.
"""

from __future__ import annotations

from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.reporting.run_summary import read_run_report
from flows.warehouse.summary import RunSummary

UNIT_TABLE_KEY = "unit-week-performance"
SUMMARY_KEY = "bulletin-etl-summary"


def publish_run_artifacts(db_path: Path, summary: RunSummary) -> None:
    """Publish the run's table and markdown artifacts (call inside the flow run)."""
    table, markdown = read_run_report(db_path, summary)
    week = table[0]["week_start"] if table else "none yet"
    create_table_artifact(
        table=table,
        key=UNIT_TABLE_KEY,
        description=f"Unit performance, latest week ({week}), by group and rank.",
    )
    create_markdown_artifact(
        markdown=markdown,
        key=SUMMARY_KEY,
        description="Files by status, bulletins left out of the marts, the city's closure rate.",
    )
