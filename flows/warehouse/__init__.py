"""The warehouse layer: inbox, lake, DuckDB load, SQL models, readers (no Prefect here)."""
