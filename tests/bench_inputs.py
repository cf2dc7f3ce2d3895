"""Throughput of each input reader on the sample page: `.venv/bin/python tests/bench_inputs.py [SECONDS]`.

Builds the page as each kind of file (tests/input_files.py), then parses it with
`flows.inputs.parse_input` (read + parse, what a run does per file) for about SECONDS
each, and prints pages/s and MB/s (of the file's own bytes).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from input_files import sample_text, to_docx, to_html, to_pdf, to_pdf_chromium, to_xlsx

from flows.inputs import parse_input
from flows.parsing import ParsedPage


def main(seconds: float) -> None:
    text = sample_text()
    files = {
        "text (UTF-8)": (".txt", text.encode("utf-8")),
        "text (UTF-16 with BOM)": (".txt", text.encode("utf-16")),
        "HTML (GBK, boilerplate)": (".html", to_html("gb2312").encode("gbk")),
        "docx": (".docx", to_docx()),
        "xlsx": (".xlsx", to_xlsx()),
        "pdf (Chromium, ruled tables)": (".pdf", to_pdf_chromium(Path(tempfile.mkdtemp()))),
        "pdf (fpdf2, PDFium fallback)": (".pdf", to_pdf()),
    }
    print(f"{'input':32} {'bytes':>9} {'pages/s':>9} {'MB/s':>7}")
    for label, (suffix, data) in files.items():
        assert isinstance(parse_input("2020-12-23_p" + suffix, data), ParsedPage), label
        n, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            parse_input("2020-12-23_p" + suffix, data)
            n += 1
        print(f"{label:32} {len(data):>9,} {n / elapsed:>9.1f} {n * len(data) / elapsed / 1e6:>7.2f}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)
