"""Sensors: Kafka CDC micro-batches, Salesforce contract changes, the trade stream (later issues)."""

from dagster import Definitions


def defs() -> Definitions:
    """Sensors of the code location (none yet in the foundation)."""
    return Definitions()
