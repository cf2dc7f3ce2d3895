"""Inputs as published: web pages, Word, Excel and PDF files turned into the page text the parser reads.

A layer between the inbox and the parser: it may use third-party readers (lxml,
python-docx, openpyxl, pdfplumber) but no Prefect or DuckDB, and imports only
`flows.parsing` and `flows.text` of the project. `parse_input` is what the pipeline
calls for every file; `read_input` shows what a file becomes before it is parsed.
"""

from __future__ import annotations

from flows.inputs.page import InputPage
from flows.inputs.read import kind_of, parse_input, read_input

__all__ = ["InputPage", "kind_of", "parse_input", "read_input"]
