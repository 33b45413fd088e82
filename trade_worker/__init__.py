"""The low-latency trade path: the `mesh stream-trades` worker (no Dagster import) and its hot table."""
