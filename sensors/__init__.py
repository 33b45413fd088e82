"""Sensors: Kafka CDC micro-batches and GIPS composite registration (Salesforce and trade stream: later issues)."""

from dagster import Definitions


def defs() -> Definitions:
    """Sensors of the code location, with the jobs they launch."""
    from jobs.cdc import aladdin_cdc_job
    from sensors.aladdin_cdc_sensor import aladdin_cdc_sensor
    from sensors.gips_composite_sensor import gips_composite_sensor

    return Definitions(sensors=[aladdin_cdc_sensor, gips_composite_sensor], jobs=[aladdin_cdc_job])
