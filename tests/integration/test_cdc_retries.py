# ruff: noqa: F811  (the imported fixtures `cdc` and `webhook` are parameters of the tests and helpers)
"""A CDC range that keeps failing: backoff, give-up, the ERROR check, the alert, and a stalled partition.

Real broker, real Iceberg, the real sensor and micro-batch job. The failure is real and not about one
record: the first offsets of one partition are deleted on the broker (``DeleteRecords``, what retention
does), so every read of a range starting at 0 fails with ``KafkaRangeError`` for that partition only.
Backoffs and the stall threshold are seconds here (settings), minutes in production.
"""

import json
import time

from dagster import AssetCheckEvaluation, AssetCheckKey, AssetCheckSeverity, build_run_status_sensor_context

from mesh_assets.bronze.aladdin_cdc import TRADES_KEY
from mesh_assets.lib.cdc import TopicPartition
from mesh_assets.lib.lakehouse import tables
from mesh_assets.lib.lakehouse.positions import committed_positions
from tests.integration.test_alerting import Webhook, fast, webhook  # noqa: F401
from tests.integration.test_cdc_kafka import cdc, evaluate_sensor, iceberg, run_request  # noqa: F401

STUCK = "aladdin.trades-1"


def tick(cdc, cursor):
    """One sensor evaluation; its check evaluations recorded in the instance as the daemon records them."""
    result = evaluate_sensor(cdc, cursor)
    for event in result.asset_events:
        cdc["instance"].report_runless_asset_event(event)
    return result


def requests_for(result, partition: str) -> list:
    """The requests whose ranges include ``partition`` (a run of its own, or the topic's shared run)."""
    return [r for r in result.run_requests
            if partition in {label.rsplit("-", 2)[0] for label in r.tags["mesh/offset-range"].split(",")}]


def range_of(request, partition: str) -> str:
    return next(label for label in request.tags["mesh/offset-range"].split(",") if label.startswith(f"{partition}-"))


def checks(result, name: str) -> list[AssetCheckEvaluation]:
    return [e for e in result.asset_events if isinstance(e, AssetCheckEvaluation) and e.check_name == name
            and e.asset_key == TRADES_KEY]


def produce(cdc, partition: int, count: int) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=cdc["kafka"].bootstrap_servers)
    topic = f"{cdc['prefix']}aladdin.trades"
    lines = (cdc["firm"] / "aladdin" / "cdc" / "aladdin.trades.jsonl").read_text().splitlines()
    record = next(r for r in map(json.loads, lines) if r["value"] and '"op":"r"' in r["value"])
    for _ in range(count):
        producer.send(topic, key=record["key"].encode(), value=record["value"].encode(), partition=partition)
    producer.flush(timeout=30)
    producer.close()


def lose_first_offsets(cdc, partition: int, before: int) -> None:
    """Delete the partition's records below ``before`` on the broker, as retention would."""
    from kafka import TopicPartition as KafkaPartition
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=cdc["kafka"].bootstrap_servers)
    try:
        admin.delete_records({KafkaPartition(f"{cdc['prefix']}aladdin.trades", partition): before}, timeout_ms=30_000)
    finally:
        admin.close()


def on_demand(cdc, name: str):
    """The check executed on demand, as the UI launches it (a run of just that check)."""
    from dagster import AssetSelection, Definitions, define_asset_job

    job = define_asset_job("flow_check_on_demand", selection=AssetSelection.checks(AssetCheckKey(TRADES_KEY, name)))
    defs = Definitions.merge(cdc["defs"], Definitions(jobs=[job]))
    result = defs.resolve_job_def(job.name).execute_in_process(instance=cdc["instance"])
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def failure_alert(cdc, webhook, run_result) -> dict:
    from sensors.run_failure_alert import run_failure_alert_sensor

    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_instance=cdc["instance"], dagster_run=run_result.dagster_run,
        dagster_event=run_result.get_run_failure_event(), resources={"alerts": fast(webhook.url)})
    run_failure_alert_sensor(context)
    return webhook.payloads()[-1]


def test_a_failing_range_backs_off_then_is_given_up_while_other_partitions_flow(cdc, webhook, monkeypatch):
    monkeypatch.setenv("MESH_CDC_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("MESH_CDC_RETRY_BACKOFF_S", "0.5")
    produce(cdc, partition=1, count=3)  # at least 3 records, whatever the firm put there
    lose_first_offsets(cdc, partition=1, before=3)
    first = tick(cdc, None)
    [shared] = requests_for(first, STUCK)  # the topic's healthy partitions share one run
    label = range_of(shared, STUCK)
    assert label.startswith(f"{STUCK}-0-") and shared.run_key == shared.tags["mesh/offset-range"]
    assert requests_for(first, "aladdin.trades-0") == [shared]
    result = run_request(cdc, shared)
    assert not result.success  # one partition's read failed: nothing of the run committed
    note = failure_alert(cdc, webhook, result)["cdc_range"]
    mine = next(n for n in note["ranges"] if n["range"] == label)
    assert mine["failed_attempts"] == 1 and mine["next_attempt_in_s"] == 0 and not note["retries_exhausted"]
    # every partition of the failed shared run is asked for again at once, each in a run of its own
    split = tick(cdc, first.cursor)
    [attempt] = requests_for(split, STUCK)
    assert attempt.run_key == f"{label}#retry1" and attempt.tags["mesh/offset-range"] == label
    [own] = requests_for(split, "aladdin.trades-0")
    assert own.tags["mesh/topic-partition"] == "aladdin.trades-0" and own.run_key.endswith("#retry1")
    for request in split.run_requests:
        if request is not attempt:
            assert run_request(cdc, request).success  # the healthy partitions flow
    cursor = split.cursor
    failed_at, waits = [], []
    for n in range(2, 5):
        result = run_request(cdc, attempt)
        assert not result.success
        record = cdc["instance"].get_run_record_by_id(result.run_id)
        failed_at.append(record.end_time)
        alert = failure_alert(cdc, webhook, result)
        note = alert["cdc_range"]
        assert (note["topic"], note["partition"], note["failed_attempts"]) == ("aladdin.trades", 1, n)
        assert "no longer on the broker" in note["error"]
        if n < 4:
            assert not note["retries_exhausted"] and note["next_attempt_in_s"] == round(0.5 * 2 ** (n - 1))
            # Asked again only once the backoff after the n-th failure is over: 1 s, then 2 s.
            while True:
                result_tick = tick(cdc, cursor)
                cursor = result_tick.cursor
                again = requests_for(result_tick, STUCK)
                if again:
                    break
                time.sleep(0.2)
            waits.append(time.time() - record.end_time)
            [attempt] = again
            assert attempt.run_key == f"{label}#retry{n}" and attempt.tags["mesh/offset-range"] == label
        else:
            assert note["retries_exhausted"] and "given up after 4 failures" in alert["text"]
            assert "dagster sensor cursor aladdin_cdc_sensor --delete" in alert["text"]
    assert 1.0 <= waits[0] < 2.0 <= waits[1] < 4.0, waits  # the backoff doubles

    # Given up: no more requests for the range, an ERROR check naming it, while partition 0 keeps flowing.
    produce(cdc, partition=0, count=2)
    stopped = tick(cdc, cursor)
    assert not requests_for(stopped, STUCK)
    [flowing] = requests_for(stopped, "aladdin.trades-0")
    [exhausted] = checks(stopped, "range_retries_exhausted")
    assert not exhausted.passed and exhausted.severity == AssetCheckSeverity.ERROR
    [stuck] = exhausted.metadata["stuck_ranges"].value
    assert (stuck["topic"], stuck["partition"], stuck["range"]) == ("aladdin.trades", 1, label)
    assert stuck["offset_range"][0] == 0 and stuck["same_reason_attempts"] == 4
    assert "offsets 0..2 are no longer on the broker" in stuck["error"]
    assert "partition 1 offsets 0.." in exhausted.description and "no longer on the broker" in exhausted.description
    before = committed_positions(iceberg(cdc).table(tables.TRADES))[TopicPartition("aladdin.trades", 0)]
    assert run_request(cdc, flowing).success
    after = committed_positions(iceberg(cdc).table(tables.TRADES))
    assert after[TopicPartition("aladdin.trades", 0)] == before + 2
    assert TopicPartition("aladdin.trades", 1) not in after
    later = tick(cdc, stopped.cursor)
    assert not requests_for(later, STUCK) and not checks(later, "range_retries_exhausted")  # unchanged: not re-sent
    history = cdc["instance"].event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(TRADES_KEY, "range_retries_exhausted"), limit=5)
    assert [h.status.value for h in history][:2] == ["FAILED", "SUCCEEDED"]

    again = on_demand(cdc, "range_retries_exhausted")  # the same verdict from the run history alone
    assert not again.passed and again.metadata["stuck_ranges"].value[0]["range"] == label

    # Un-stick as the runbook says: reset the sensor's cursor; the range gets fresh attempts.
    reset = tick(cdc, None)
    [fresh] = requests_for(reset, STUCK)
    assert fresh.run_key == f"{label}#retry4"  # 3 runs of its own + the shared one


def test_partition_stalled_goes_red_past_the_threshold_and_green_once_caught_up(cdc, monkeypatch):
    threshold_s = 1.0
    monkeypatch.setenv("MESH_CDC_STALL_AFTER_S", str(threshold_s))
    catch_up = cdc["defs"].resolve_job_def("aladdin_cdc_microbatch").execute_in_process(
        instance=cdc["instance"], run_config={"ops": {"aladdin_cdc": {"config": {"ranges": []}}}})
    assert catch_up.success
    first = tick(cdc, None)
    [green] = checks(first, "partition_stalled")
    assert green.passed and not first.run_requests
    produce(cdc, partition=2, count=3)
    time.sleep(threshold_s + 0.2)
    behind = tick(cdc, first.cursor)
    [red] = checks(behind, "partition_stalled")
    assert not red.passed and red.severity == AssetCheckSeverity.ERROR
    assert red.metadata["stalled_partitions"].value == ["aladdin.trades-2"]
    [lagging] = red.metadata["lagging"].value
    committed = committed_positions(iceberg(cdc).table(tables.TRADES))[TopicPartition("aladdin.trades", 2)]
    assert (lagging["topic"], lagging["partition"], lagging["committed_offset"], lagging["end_offset"],
            lagging["lag"]) == ("aladdin.trades", 2, committed, committed + 3, 3)
    assert lagging["seconds_since_last_commit"] > threshold_s and lagging["threshold_seconds"] == threshold_s
    asked = on_demand(cdc, "partition_stalled")
    assert not asked.passed and asked.metadata["stalled_partitions"].value == ["aladdin.trades-2"]
    [request] = requests_for(behind, "aladdin.trades-2")
    assert run_request(cdc, request).success
    caught_up = tick(cdc, behind.cursor)
    [recovered] = checks(caught_up, "partition_stalled")
    assert recovered.passed and "caught up" in recovered.description
    history = cdc["instance"].event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(TRADES_KEY, "partition_stalled"), limit=5)
    # newest first: caught up, on demand (red), the sensor (red), the first tick (green)
    assert [h.status.value for h in history][:4] == ["SUCCEEDED", "FAILED", "FAILED", "SUCCEEDED"]
