"""The bundled synthetic weeks are what the generator makes, and they read back exactly."""

from __future__ import annotations

from flows.devtools.synth import BUNDLED_WEEKS, bundled_files
from flows.parsing import parse_file
from flows.settings import PROJECT_DIR


def test_bundled_inbox_files_are_the_generators_output() -> None:
    inbox = PROJECT_DIR / "warehouse" / "inbox"
    for name, text in bundled_files().items():
        assert (inbox / name).read_text(encoding="utf-8") == text, (
            f"regenerate with: python -m flows.devtools.synth {inbox}"
        )


def test_synthetic_pages_parse_back_to_their_figures() -> None:
    for (issue, week), (name, text) in zip(BUNDLED_WEEKS, bundled_files().items(), strict=True):
        page = parse_file(name, text.encode("utf-8"))
        assert page.issue_date == issue and page.issue_date_source == "file_name"
        (bulletin,) = page.bulletins
        assert bulletin.failed_checks == ()
        assert (bulletin.period_start, bulletin.period_end) == (week.start, week.end)
        assert (bulletin.due, bulletin.closed, bulletin.in_progress, bulletin.overdue, bulletin.disputed) == (
            week.due,
            week.closed,
            week.in_progress,
            week.overdue,
            week.disputed,
        )
        assert [(u.unit_group, u.unit_name_raw, u.dispatched, u.unresolved) for u in bulletin.units] == [
            (u.group, u.name, u.dispatched, u.unresolved) for u in week.units
        ]
