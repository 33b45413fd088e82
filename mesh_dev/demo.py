"""The demo: materialize bronze, silver and gold for the synthetic firm on the embedded default.

Runs the jobs in process against the instance in ``DAGSTER_HOME`` so that `dagster dev` shows the
same materializations and check history afterwards.
"""

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import DagsterInstance
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG


@dataclass
class DemoReport:
    """What the demo materialized and how the checks went."""

    runs: list[str] = field(default_factory=list)
    materializations: dict[str, int] = field(default_factory=dict)  # asset -> materializations
    partitions: dict[str, set[str]] = field(default_factory=dict)  # partitioned asset -> partitions materialized
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[tuple[str, str, str]] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)


def materialized_line(report: DemoReport, key: str) -> str:
    """How the demo reports an asset: its partitions if it is partitioned, else how often it was built."""
    if key in report.partitions:
        count = len(report.partitions[key])
        return f"materialized {key} ({count} partition{'s' if count != 1 else ''})"
    times = report.materializations[key]
    return f"materialized {key}" + (f" ({times} times)" if times > 1 else "")


def collect(result, report: DemoReport) -> None:
    """Add a run's materializations, check evaluations and failed steps to ``report``."""
    report.runs.append(result.run_id)
    for event in result.get_asset_materialization_events():
        key = event.asset_key.to_user_string()
        report.materializations[key] = report.materializations.get(key, 0) + 1
        if event.partition is not None:
            report.partitions.setdefault(key, set()).add(event.partition)
    for evaluation in result.get_asset_check_evaluations():
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        if evaluation.passed:
            report.checks_passed.append(name)
        else:
            report.checks_failed.append((name, evaluation.severity.value, evaluation.description or ""))
    if not result.success:
        report.failed_steps.extend(f"{e.step_key}: {e.event_specific_data.error.message.strip()[:500]}"
                                   for e in result.all_events if e.is_step_failure)


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@contextlib.contextmanager
def library_output(log: Path | None) -> Iterator[None]:
    """What libraries print on stdout inside the block (dagster-dbt re-emits every dbt log line there, which a
    launched run keeps in its compute log) goes to ``log`` instead of the terminal; ``None`` leaves it."""
    if log is None:
        yield
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as handle, contextlib.redirect_stdout(handle):
        yield


def _load_sources(instance: DagsterInstance, step: Callable[[str], None],
                  log: Path | None = None) -> tuple[Any, DemoReport]:
    """The definitions, and a report that starts with the bronze sources run (CDC, reference, Salesforce)."""
    from mesh_assets.definitions import build_definitions

    defs = build_definitions()
    report = DemoReport()
    step("bronze sources: reference data, Salesforce, Aladdin CDC")
    with library_output(log):
        collect(defs.resolve_job_def("bronze_sources").execute_in_process(instance=instance, run_config=QUIET),
                report)
    return defs, report


def run_bronze(
    first_day: str, last_day: str, instance: DagsterInstance, step: Callable[[str], None] = lambda _: None
) -> DemoReport:
    """Load every bronze source: snapshots and CDC, then the daily deliveries of ``first_day..last_day``."""
    defs, report = _load_sources(instance, step)
    step(f"daily deliveries {first_day}..{last_day} (one run)")
    result = defs.resolve_job_def("bronze_daily_deliveries").execute_in_process(
        instance=instance,
        run_config=QUIET,
        tags={ASSET_PARTITION_RANGE_START_TAG: first_day, ASSET_PARTITION_RANGE_END_TAG: last_day},
    )
    collect(result, report)
    return report


def run_end_of_day(
    first_day: str, last_day: str, instance: DagsterInstance, step: Callable[[str], None] = lambda _: None,
    log: Path | None = None,
) -> DemoReport:
    """The main job: bronze sources (CDC, reference, Salesforce), then ``eod_batch`` over
    ``first_day..last_day`` in one run (deliveries, silver and gold with every check). dbt's log lines go
    to ``log`` when given (see :func:`library_output`)."""
    defs, report = _load_sources(instance, step, log)
    step(f"eod_batch {first_day}..{last_day} (one run): deliveries, silver, gold, checks")
    with library_output(log):
        result = defs.resolve_job_def("eod_batch").execute_in_process(
            instance=instance,
            run_config=QUIET,
            raise_on_error=False,
            tags={ASSET_PARTITION_RANGE_START_TAG: first_day, ASSET_PARTITION_RANGE_END_TAG: last_day},
        )
    collect(result, report)
    return report


def run_publication(
    day: str, defs: Any, instance: DagsterInstance, report: DemoReport, step: Callable[[str], None] = lambda _: None,
    log: Path | None = None,
) -> dict[str, Any]:
    """After the end of day: every data product's ADX revisions for ``day``, then one entitlement reconcile
    from the Salesforce contracts (the contract sensor evaluated once, its run executed)."""
    from dagster import build_sensor_context

    from sensors.salesforce_contract_sensor import salesforce_contract_sensor

    step(f"adx_publish {day}: one revision per data product and tenant, behind the PII/schema/key/NAV checks")
    with library_output(log):
        result = defs.resolve_job_def("adx_publish").execute_in_process(
            instance=instance, run_config=QUIET, partition_key=day, raise_on_error=False)
    collect(result, report)
    revisions = [dict(e.materialization.metadata)["revisions"].value for e in result.get_asset_materialization_events()]
    step("salesforce_contract_sensor tick, then entitlement_reconcile: contracts -> ADX data grants")
    context = build_sensor_context(instance=instance, resources={
        "salesforce": defs.resources["salesforce"], "iceberg": defs.resources["iceberg"]})
    # its INFO lines belong in the daemon's tick log; here the step line above says what happens
    context.log.setLevel(logging.WARNING)
    tick = salesforce_contract_sensor(context)
    summary: dict[str, Any] = {"revisions": sum(len(r) for r in revisions)}
    for request in tick.run_requests or []:
        with library_output(log):
            run = defs.resolve_job_def("entitlement_reconcile").execute_in_process(
                instance=instance, run_config={**QUIET, **request.run_config}, tags=request.tags,
                asset_selection=request.asset_selection, raise_on_error=False)
        collect(run, report)
        for event in run.get_asset_materialization_events():
            if event.asset_key.to_user_string() == "entitlements/grants":
                metadata = event.materialization.metadata
                summary.update({k: metadata[k].value for k in ("granted", "revoked", "grants_after", "refused")})
    return summary
