"""Prefect's console output without tracebacks.

A failed run logs its exception with the traceback (about 80 lines for a task that
raised); on a terminal that buries the one line that says what to do. This formatter
takes the traceback off the console only: the record keeps it, so the run's logs in the
Prefect API (the UI's run page, `prefect flow-run logs`) still show it in full.

The CLI selects it for Prefect's `standard` formatter through Prefect's own override,
`PREFECT_LOGGING_FORMATTERS_STANDARD_=flows.orchestration.console_logging.TracebackFreeFormatter`
(the `()` key of `formatters.standard` in Prefect's logging.yml), so every process it
starts (process-pool workers, served flow runs) does the same.
"""

from __future__ import annotations

import logging

from prefect.logging.formatters import PrefectFormatter

from flows.text.escape import visible


class TracebackFreeFormatter(PrefectFormatter):
    """Prefect's console format, each record on its line(s) without exception or stack text or control characters."""

    def format(self, record: logging.LogRecord) -> str:
        # A log line quotes file and unit names: control sequences in them (OSC 52 writes the
        # clipboard) are made visible here, on the way to the terminal; a record's own line
        # breaks stay.
        return "\n".join(visible(line) for line in self._format(record).split("\n"))

    def _format(self, record: logging.LogRecord) -> str:
        if not (record.exc_info or record.exc_text or record.stack_info):
            return super().format(record)
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
