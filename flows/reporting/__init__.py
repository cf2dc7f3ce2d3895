"""Reports for people, built from the warehouse readers (pure: no Prefect here)."""
