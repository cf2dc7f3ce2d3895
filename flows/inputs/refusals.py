"""Why a file cannot be read, and what to do about it, in English and Chinese.

Each detail names what was found, then what to do: the status a person reads in
`bulletins status` and under the run's summary (`<reason>: <detail>`).
"""

from __future__ import annotations

from flows.parsing.reasons import NO_TEXT_LAYER, UNREADABLE
from flows.parsing.records import Rejection, RejectionReason

MIB = 1024 * 1024


def refuse(reason: RejectionReason, found: str, todo: str, todo_zh: str) -> Rejection:
    """A rejection whose detail says what was found and what to do (English, then Chinese).

    >>> refuse("encrypted", "a PDF with a password", "save a copy without one", "请另存为无密码的副本").detail
    'a PDF with a password: save a copy without one (请另存为无密码的副本)'
    """
    return Rejection(reason, f"{found}: {todo} ({todo_zh})")


def needs_ocr(found: str) -> Rejection:
    """An image or a scanned PDF: no text to read without OCR.

    >>> r = needs_ocr("a PNG image")
    >>> f"{r.reason}: {r.detail}".startswith("no text layer: needs OCR (没有文字层：需要 OCR): a PNG image;")
    True
    """
    return Rejection(
        NO_TEXT_LAYER,
        f"needs OCR (没有文字层：需要 OCR): {found}; put the bulletin's text, web page, Word file or a PDF "
        "with a text layer in the inbox instead (请改放文字版、网页、Word 文件或带文字层的 PDF)",
    )


def broken(kind: str, error: BaseException | str) -> Rejection:
    """A file of a known kind that its reader cannot open: damaged or not what its name says."""
    what = error if isinstance(error, str) else f"{type(error).__name__}: {str(error)[:200]}"
    return refuse(
        UNREADABLE,
        f"a damaged or truncated {kind} file ({what})",
        f"open it in the program that made it and save it again, or fetch the {kind} again",
        "文件已损坏或不完整：请用原程序打开后重新保存，或重新下载",
    )


def too_big(found: str, limit: str) -> Rejection:
    """A file past one of the readers' bounds (unpacked size, table cells, pages)."""
    return refuse(
        UNREADABLE,
        f"{found}, {limit}: not read",
        "split it, or save the bulletin's own pages or sheet as a file of its own",
        "文件过大：请拆分，或只另存通报所在的页面或工作表",
    )
