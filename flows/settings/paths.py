"""Where the project's own files are, and where a run looks by default."""

from __future__ import annotations

from pathlib import Path

# flows/ (this package's parent) and the checkout that holds it.
_FLOWS_DIR = Path(__file__).resolve().parents[1]
PROJECT_DIR = _FLOWS_DIR.parent
# The SQL models: sql/ in a checkout (and an editable install); an installed package
# carries a copy as flows/sql (see pyproject.toml), which a checkout never has.
_PACKAGED_SQL_DIR = _FLOWS_DIR / "sql"
SQL_DIR = _PACKAGED_SQL_DIR if _PACKAGED_SQL_DIR.is_dir() else PROJECT_DIR / "sql"

DEFAULT_INBOX = Path("warehouse/inbox")
DEFAULT_WAREHOUSE = Path("warehouse")
