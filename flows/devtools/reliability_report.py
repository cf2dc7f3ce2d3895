"""Write RELIABILITY.md from the figures `make reliability` recorded.

python -m flows.devtools.reliability_report .reliability/figures.jsonl RELIABILITY.md
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

HEADER = """# Reliability

The figures of the last full run of the reliability suite (`make reliability`): each case
of issue 7 tried as a hostile user would, and what the warehouse did. Rerun it with
`make reliability` (at most 15 minutes on 2 cores); `make test` runs the same tests at a
small scale. Every row is also an assertion: a broken promise fails the suite.
"""


def reliability_markdown(figures: list[dict], when: str, machine: str) -> str:
    lines = [HEADER, f"Last run: {when} on {machine}.", ""]
    failed = [f for f in figures if not f["ok"]]
    lines += [f"**{len(figures) - len(failed)} of {len(figures)} figures as promised.**", ""]
    lines += ["| case | tried | found | ok | s |", "| --- | --- | --- | :-: | ---: |"]
    for f in sorted(figures, key=lambda f: (_case_key(f["case"]), f["tried"])):
        cells = [f["case"], f["tried"], f["found"], "yes" if f["ok"] else "**NO**", f"{f['seconds']:g}"]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _case_key(case: str) -> tuple[int, str]:
    number = case.split(" ", 1)[0]
    return (int(number), case) if number.isdigit() else (10**6, case)


def main(argv: list[str]) -> int:
    source, target = Path(argv[0]), Path(argv[1])
    figures = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    target.write_text(reliability_markdown(figures, when, machine), encoding="utf-8")
    print(f"wrote {target}: {len(figures)} figures")
    return 0 if all(f["ok"] for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
