"""The trade worker, deployed on its own (``python -m trade_worker``): consumes trade CDC, publishes enriched
trades and risk alerts, commits the hot table exactly once. Imports neither Dagster nor ``mesh_dev``."""
