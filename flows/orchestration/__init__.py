"""The orchestration layer: the Prefect flow, serving, artifacts (the only Prefect importers)."""
