"""Parse throughput on one core: the sample page and its variants, parsed over and over.

    .venv/bin/python -m flows.devtools.bench_parse

Measures only; no test asserts on speed.
"""

from __future__ import annotations

import time

from flows.parsing import parse_file
from flows.settings import PROJECT_DIR

PAGES_DIR = PROJECT_DIR / "tests" / "fixtures" / "pages"


def measure(repeat: int = 30) -> dict[str, float]:
    """Parse every fixture page `repeat` times in this process; return MB/s and what it timed."""
    pages = [(path.name, path.read_bytes()) for path in sorted(PAGES_DIR.glob("*.txt"))]
    total = sum(len(data) for _, data in pages) * repeat
    started = time.perf_counter()
    for _ in range(repeat):
        for name, data in pages:
            parse_file(name, data)
    seconds = time.perf_counter() - started
    return {
        "mb_per_s": round(total / 1e6 / seconds, 3),
        "pages_per_s": round(len(pages) * repeat / seconds, 1),
        "megabytes": round(total / 1e6, 3),
        "seconds": round(seconds, 3),
    }


if __name__ == "__main__":
    print(measure())
