"""The auditor's view: every asset-check evaluation, kept in an append-only Iceberg table for years.

Dagster keeps check history with the asset (wiping the asset or deleting its runs drops it, and the
instance promises no retention). ``audit.check_results`` is the durable copy: the
``audit_check_results_sensor`` appends each ``ASSET_CHECK_EVALUATION`` of the event log exactly once,
and ``mesh audit export`` hands auditors a CSV or Parquet extract.

This package has no Dagster import (the CLI loads the Iceberg resource lazily); the event-log side
lives in ``sensors/audit_sensor.py``.
"""
