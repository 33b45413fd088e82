"""Sensors: CDC micro-batches, Salesforce contracts, the trade stream, GIPS composites, alerts, the audit."""

from dagster import Definitions


def defs() -> Definitions:
    """Sensors of the code location (the jobs they launch are registered in ``jobs/``)."""
    from sensors.aladdin_cdc_sensor import aladdin_cdc_sensor
    from sensors.audit_sensor import audit_check_results_sensor
    from sensors.freshness_alert import freshness_alert_sensor
    from sensors.gips_composite_sensor import gips_composite_sensor
    from sensors.run_failure_alert import run_failure_alert_sensor
    from sensors.salesforce_contract_sensor import salesforce_contract_sensor
    from sensors.trade_stream_sensor import trade_stream_sensor

    return Definitions(
        sensors=[aladdin_cdc_sensor, gips_composite_sensor, run_failure_alert_sensor, freshness_alert_sensor,
                 audit_check_results_sensor, salesforce_contract_sensor, trade_stream_sensor],
    )
