"""Python checks evaluated inside the dbt step that builds their asset, not as steps of their own.

A check here is an ``AssetCheckSpec`` (the same key, description and blocking flag as before) and a pure
evaluation over the warehouse. The dbt multi-asset declares the specs and, after dbt built its models,
yields every selected check's result, so a failed blocking check fails that step and nothing downstream
of it runs (the same semantics as a blocking ``@asset_check`` step, without a step per check).

A check partitioned by trading day reports one evaluation per trading day of the run (``partition`` set),
each with that day's counts, threshold and samples (the run that materialized the day is the run that
checked it, so no materialization pointer is looked up per day): a range run (a backfill) shows Passed/Failed for
every day it checked, and a day is never left Skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Output,
)

from mesh_assets.lib.quality import Verdict
from mesh_assets.shared.check_results import check_metadata, to_check_result
from mesh_assets.warehouse.checks.window import CheckWindow, check_window
from resources.warehouse import WarehouseResource

#: Days a daily check evaluates per query. The large firm's full history (1,260 days) in one query of the positions
#: reconcile (a full outer join of every expected and every gold position) needed more than the 1.7 GB a query may
#: take on the local Trino (EXCEEDED_LOCAL_MEMORY_LIMIT, spill enabled); a year at a time stays within it, and
#: every daily check's verdict of a day depends only on that day and the days before it
#: (tests/integration/test_check_windows.py).
DAYS_PER_QUERY = 252

#: A whole-table check: one verdict. A daily check: a verdict per trading day (ISO date) of the window.
Evaluate = Callable[[WarehouseResource, CheckWindow], "Verdict | Mapping[str, Verdict]"]


@dataclass(frozen=True)
class InStepCheck:
    """A check's spec and its evaluation; daily when the spec has a partitions definition."""

    spec: AssetCheckSpec
    evaluate: Evaluate

    @property
    def daily(self) -> bool:
        """Whether the check reports per trading day."""
        return self.spec.partitions_def is not None


def specs_for(checks: Sequence[InStepCheck], asset_keys: set[AssetKey]) -> list[AssetCheckSpec]:
    """The specs of the checks on ``asset_keys``."""
    return [c.spec for c in checks if c.spec.asset_key in asset_keys]


def _daily_events(check: InStepCheck, verdicts: Mapping[str, Verdict],
                  days: Sequence[str]) -> Iterator[AssetCheckEvaluation]:
    key = check.spec.asset_key
    for day in days:
        verdict = verdicts.get(day) or Verdict(False, f"{check.spec.name} found nothing to check on {day}",
                                               {"first_day": day, "last_day": day})
        yield AssetCheckEvaluation(
            asset_key=key, check_name=check.spec.name, passed=verdict.passed,
            severity=AssetCheckSeverity.WARN if verdict.warn_only else AssetCheckSeverity.ERROR,
            description=verdict.description, metadata=check_metadata(verdict, partition=day),
            blocking=check.spec.blocking, partition=day,
        )


def run_checks(context: AssetExecutionContext, warehouse: WarehouseResource,
               checks: Sequence[InStepCheck]) -> Iterator[Any]:
    """Evaluate the selected checks of this step; yield their results (daily ones once per day)."""
    selected = set(context.selected_asset_check_keys)
    output_names = {spec.key: name for name, spec in context.assets_def.check_specs_by_output_name.items()}
    for check in checks:
        if check.spec.key not in selected:
            continue
        window = check_window(context)
        context.log.info(f"check {check.spec.key.to_user_string()} over {window.start}..{window.end}")
        if not check.daily:
            yield to_check_result(check.evaluate(warehouse, window), check_name=check.spec.name,
                                  asset_key=check.spec.asset_key)
            continue
        verdicts: dict[str, Verdict] = {}
        for part in window.chunks(DAYS_PER_QUERY):
            verdicts.update(check.evaluate(warehouse, part))
        days = list(context.partition_keys) if context.has_partition_key_range or context.has_partition_key else []
        # The check's output (what a blocking check's downstream waits for), then one evaluation per day.
        yield Output(None, output_name=output_names[check.spec.key])
        yield from _daily_events(check, verdicts, days)
