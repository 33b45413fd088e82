"""Sensors: Kafka CDC micro-batches (now); Salesforce contract changes and the trade stream (later issues)."""

from dagster import Definitions


def defs() -> Definitions:
    """Sensors of the code location, with the jobs they launch."""
    from jobs.cdc import aladdin_cdc_job
    from sensors.aladdin_cdc_sensor import aladdin_cdc_sensor

    return Definitions(sensors=[aladdin_cdc_sensor], jobs=[aladdin_cdc_job])
