"""Step retries on outside-system calls: a transient error is retried with backoff, a user's mistake is not.

Real Dagster runs through the job's (in-process) executor, which applies the op ``RetryPolicy`` as the
multiprocess executor does; the policy is the production one with its first delay shortened for the test.
"""

from __future__ import annotations

from collections import Counter

import pytest
from dagster import (
    AssetKey,
    Definitions,
    MaterializeResult,
    RetryPolicy,
    asset,
    define_asset_job,
    in_process_executor,
    instance_for_test,
)

from mesh_assets.lib.user_errors import UserError
from mesh_assets.shared.retries import OUTSIDE_SYSTEM_RETRY, user_errors_not_retried

pytestmark = pytest.mark.integration

FAST = RetryPolicy(max_retries=OUTSIDE_SYSTEM_RETRY.max_retries, delay=0.05, backoff=OUTSIDE_SYSTEM_RETRY.backoff,
                   jitter=OUTSIDE_SYSTEM_RETRY.jitter)
attempts: Counter[str] = Counter()


@asset(retry_policy=FAST)
@user_errors_not_retried
def flaky_vendor_api() -> MaterializeResult:
    """Fails twice the way a throttled API does, then answers."""
    attempts["flaky_vendor_api"] += 1
    if attempts["flaky_vendor_api"] <= 2:
        raise ConnectionError("vendor API reset the connection")
    return MaterializeResult(metadata={"attempt": attempts["flaky_vendor_api"]})


@asset(retry_policy=FAST)
@user_errors_not_retried
def malformed_delivery() -> None:
    """A user's mistake: no attempt can fix it."""
    attempts["malformed_delivery"] += 1
    raise UserError("bloomberg/prices/2026-09-16.csv lacks the column close_price.")


@asset(retry_policy=FAST)
@user_errors_not_retried
def generator_step():
    """A generator compute function stays a generator under the wrapper, and is retried the same way."""
    attempts["generator_step"] += 1
    if attempts["generator_step"] == 1:
        raise TimeoutError("broker leader election")
    yield MaterializeResult(metadata={"attempt": attempts["generator_step"]})


def run(asset_def):
    job = define_asset_job(f"run_{asset_def.key.path[-1]}", selection=[asset_def.key], executor_def=in_process_executor)
    defs = Definitions(assets=[flaky_vendor_api, malformed_delivery, generator_step], jobs=[job])
    with instance_for_test() as instance:
        return defs.resolve_job_def(job.name).execute_in_process(instance=instance, raise_on_error=False)


def test_a_transient_error_is_retried_until_it_passes() -> None:
    attempts.clear()
    result = run(flaky_vendor_api)
    assert result.success
    assert attempts["flaky_vendor_api"] == 3
    restarts = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(restarts) == 2
    [materialization] = result.asset_materializations_for_node("flaky_vendor_api")
    assert materialization.metadata["attempt"].value == 3

    attempts.clear()
    generator = run(generator_step)
    assert generator.success and attempts["generator_step"] == 2


def test_a_user_error_fails_once_with_its_sentence_and_is_not_retried() -> None:
    attempts.clear()
    result = run(malformed_delivery)
    assert not result.success
    assert attempts["malformed_delivery"] == 1
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "bloomberg/prices/2026-09-16.csv lacks the column close_price." in failure.event_specific_data.error.message


OUTSIDE_SYSTEM_STEPS = [  # Salesforce, S3 landing zone + Glue/S3 Iceberg, Data Exchange, Kafka
    *(["bronze", "salesforce", name] for name in ("accounts", "contracts")),
    ["bronze", "bloomberg", "prices"], ["bronze", "factset", "benchmarks"],
    *(["bronze", "reference", name] for name in ("benchmarks", "clients", "composites", "portfolios", "securities")),
    *(["adx", product, "revision"] for product in ("esg", "nav_history", "performance", "prices")),
    ["entitlements", "grants"], ["distribution", "nav_intraday"], ["distribution", "performance_metrics"],
]


def test_the_steps_that_call_outside_systems_carry_the_policy() -> None:
    from mesh_assets.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    keys = {node.key for node in graph.asset_nodes}
    for path in OUTSIDE_SYSTEM_STEPS:
        key = AssetKey(path)
        assert key in keys, f"{key.to_user_string()} is not an asset any more: update this list"
        assets_def = graph.get(key).assets_def
        assert assets_def.op.retry_policy == OUTSIDE_SYSTEM_RETRY, key.to_user_string()
