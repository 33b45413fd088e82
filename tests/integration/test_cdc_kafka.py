"""Aladdin CDC from a real Kafka broker into Iceberg bronze, driven by the sensor, exactly once.

Each test replays the small firm's capture into its own fresh topics (a unique topic prefix) on the
session's real broker, with its own Iceberg catalog and Dagster instance.
"""

import json
import uuid
from pathlib import Path

import pytest
from dagster import DagsterRunStatus, build_sensor_context

from mesh_assets.lib.cdc import OffsetRange, TopicPartition
from mesh_assets.lib.lakehouse import tables
from mesh_assets.lib.lakehouse.positions import committed_positions
from mesh_dev.local import cdc_producer
from mesh_dev.local import kafka_broker as broker


def capture(firm: Path) -> dict[tuple[str, int, int], dict]:
    records = {}
    for topic in cdc_producer.CDC_TOPICS:
        for line in (firm / "aladdin" / "cdc" / f"{topic}.jsonl").read_text().splitlines():
            r = json.loads(line)
            records[(r["topic"], r["partition"], r["offset"])] = r
    return records


def positions(rows) -> set[tuple[str, int, int]]:
    return set(zip(rows["source_topic"].to_pylist(), rows["source_partition"].to_pylist(),
                   rows["source_offset"].to_pylist(), strict=True))


@pytest.fixture
def cdc(kafka_broker, small_firm, tmp_path, monkeypatch, instance):
    """Fresh topics holding the small firm's capture, a fresh catalog, env pointing at both."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    bootstrap = kafka_broker.bootstrap_servers
    manifest = json.loads((small_firm / "firm.json").read_text())
    cdc_producer.ensure_cdc_topics(bootstrap, manifest["kafka_partitions"], topic_prefix=prefix)
    produced = cdc_producer.produce_capture(bootstrap, cdc_producer.capture_dir(small_firm), topic_prefix=prefix)
    assert produced["offsets_match_capture"]
    monkeypatch.setenv("MESH_ENV", "local")
    monkeypatch.setenv("MESH_KAFKA_BOOTSTRAP", bootstrap)
    monkeypatch.setenv("MESH_KAFKA_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MESH_FIRM_DIR", str(small_firm))
    from mesh_assets.definitions import build_definitions

    defs = build_definitions()
    return {"defs": defs, "instance": instance, "firm": small_firm, "prefix": prefix, "kafka": kafka_broker}


def evaluate_sensor(cdc, cursor: str | None):
    from sensors.aladdin_cdc_sensor import aladdin_cdc_sensor

    resources = {k: cdc["defs"].resources[k] for k in ("cdc_source", "iceberg")}
    context = build_sensor_context(instance=cdc["instance"], cursor=cursor, resources=resources)
    return aladdin_cdc_sensor(context)


def run_request(cdc, request):
    job = cdc["defs"].resolve_job_def("aladdin_cdc_microbatch")
    return job.execute_in_process(run_config=request.run_config, tags={**request.tags, "dagster/run_key":
                                  request.run_key}, instance=cdc["instance"], raise_on_error=False)


def drain(cdc, max_rounds: int = 50) -> list[str]:
    """Evaluate the sensor and execute its runs until it requests nothing; return the run keys."""
    cursor, keys = None, []
    for _ in range(max_rounds):
        result = evaluate_sensor(cdc, cursor)
        cursor = result.cursor
        if not result.run_requests:
            return keys
        for request in result.run_requests:
            keys.append(request.run_key)
            assert run_request(cdc, request).success
    raise AssertionError(f"sensor still requesting runs after {max_rounds} rounds")


def parse(label: str) -> OffsetRange:
    topic, partition, start, end = label.rsplit("-", 3)
    return OffsetRange(topic, int(partition), int(start), int(end))


def iceberg(cdc):
    return cdc["defs"].resources["iceberg"]


def test_sensor_and_runs_land_exactly_the_valid_events_and_dead_letter_the_malformed(cdc, monkeypatch):
    monkeypatch.setenv("MESH_CDC_MAX_RANGE", "40")
    keys = drain(cdc)
    manifest = json.loads((cdc["firm"] / "firm.json").read_text())
    malformed = {(r["topic"], r["partition"], r["offset"]) for r in manifest["edge_cases"]["malformed_records"]}
    tombstones = {(r["topic"], r["partition"], r["offset"]) for r in manifest["edge_cases"]["tombstones"]}
    everything = capture(cdc["firm"])
    for topic, spec in tables.CDC_TABLES.items():
        rows = iceberg(cdc).table(spec).scan().to_arrow()
        landed = positions(rows)
        assert len(landed) == rows.num_rows, f"{topic}: an offset landed twice"
        expected = {p for p in everything if p[0] == topic} - malformed - tombstones
        assert landed == expected
    dead = positions(iceberg(cdc).table(tables.DEAD_LETTERS).scan().to_arrow())
    assert dead == malformed
    # Ranges are capped at 40 offsets, keyed by the ranges themselves, and follow each other per partition.
    ranges = [OffsetRange(*[int(x) if i else x for i, x in enumerate(label.rsplit("-", 3))])
              for k in keys for label in k.split(",")]
    assert max(len(r) for r in ranges) == 40
    ends: dict = {}
    for r in ranges:
        assert r.start == ends.get(r.topic_partition, 0)
        ends[r.topic_partition] = r.end


def test_sensor_ranges_are_contiguous_from_the_committed_position_and_the_cursor_tracks_them(cdc, monkeypatch):
    monkeypatch.setenv("MESH_CDC_MAX_RANGE", "7")
    first = evaluate_sensor(cdc, None)
    # one run per topic carrying every partition's range, keyed and tagged by the ranges
    by_topic = {r.tags["mesh/topic-partition"]: r for r in first.run_requests}
    assert sorted(by_topic) == ["aladdin.cash_flows", "aladdin.trades"]
    request = by_topic["aladdin.trades"]
    labels = request.run_key.split(",")
    assert len(labels) > 1 and labels[0] == "aladdin.trades-0-0-7"
    assert request.tags["mesh/offset-range"] == request.run_key
    assert request.run_config == {"ops": {"aladdin_cdc": {"config": {"ranges": labels}}}}
    assert json.loads(first.cursor)["aladdin.trades-0"] == 7
    assert run_request(cdc, request).success
    assert all(committed_positions(iceberg(cdc).table(tables.TRADES))[parse(label).topic_partition] == 7
               for label in labels)
    second = evaluate_sensor(cdc, first.cursor)
    next_keys = {r.run_key for r in second.run_requests}
    assert any(k.startswith("aladdin.trades-0-7-14,") for k in next_keys)
    # A request that never ran (no run exists) is requested again, unchanged.
    other = by_topic["aladdin.cash_flows"]
    assert other.run_key in next_keys


def test_no_new_request_for_a_partition_with_a_run_in_flight(cdc):
    from dagster._core.test_utils import create_run_for_test

    create_run_for_test(cdc["instance"], job_name="aladdin_cdc_microbatch", status=DagsterRunStatus.STARTED,
                        tags={"mesh/topic-partition": "aladdin.trades-2", "mesh/offset-range": "aladdin.trades-2-0-9"})
    result = evaluate_sensor(cdc, None)
    requested = {label.rsplit("-", 2)[0] for r in result.run_requests for label in r.run_key.split(",")}
    assert "aladdin.trades-2" not in requested and "aladdin.trades-3" in requested


def test_a_run_that_has_committed_and_runs_its_checks_does_not_hold_the_next_range_back(cdc, monkeypatch):
    from dagster._core.test_utils import create_run_for_test

    monkeypatch.setenv("MESH_CDC_MAX_RANGE", "7")
    first = evaluate_sensor(cdc, None)
    shared = next(r for r in first.run_requests if r.tags["mesh/topic-partition"] == "aladdin.trades")
    assert run_request(cdc, shared).success  # committed; a copy of it still STARTED stands for its checks
    create_run_for_test(cdc["instance"], job_name="aladdin_cdc_microbatch", status=DagsterRunStatus.STARTED,
                        tags=shared.tags)
    second = evaluate_sensor(cdc, first.cursor)
    [after] = [r for r in second.run_requests if r.tags["mesh/topic-partition"] == "aladdin.trades"]
    assert after.run_key.startswith("aladdin.trades-0-7-14,")  # from the committed ends: contiguous


def test_a_failed_range_is_requested_again_under_a_retry_key(cdc, monkeypatch):
    from dagster._core.test_utils import create_run_for_test

    monkeypatch.setenv("MESH_CDC_RETRY_BACKOFF_S", "0")  # the backoff itself: test_cdc_retries.py

    first = evaluate_sensor(cdc, None)
    shared = next(r for r in first.run_requests if r.tags["mesh/topic-partition"] == "aladdin.trades")
    create_run_for_test(cdc["instance"], job_name="aladdin_cdc_microbatch", status=DagsterRunStatus.FAILURE,
                        tags=shared.tags)
    # Any partition of the failed shared run may have caused it: each is asked for again at once, in its own run.
    second = evaluate_sensor(cdc, first.cursor)
    again = {r.tags["mesh/topic-partition"]: r for r in second.run_requests}
    for label in shared.run_key.split(","):
        retry = again[label.rsplit("-", 2)[0]]
        assert retry.run_key == f"{label}#retry1" and retry.tags["mesh/offset-range"] == label
    create_run_for_test(cdc["instance"], job_name="aladdin_cdc_microbatch", status=DagsterRunStatus.FAILURE,
                        tags=retry.tags)
    third = evaluate_sensor(cdc, second.cursor)  # its second run of its own: n counts the shared run and its own
    assert retry.run_key.replace("#retry1", "#retry2") in {r.run_key for r in third.run_requests}


def test_retried_and_reexecuted_runs_of_a_committed_range_write_nothing(cdc):
    request = next(r for r in evaluate_sensor(cdc, None).run_requests if r.run_key.startswith("aladdin.trades-0-"))
    assert run_request(cdc, request).success
    table = iceberg(cdc).table(tables.TRADES)
    before = (table.scan().to_arrow().num_rows, len(table.snapshots()))
    again = run_request(cdc, request)
    assert again.success
    event = next(e for e in again.get_asset_materialization_events() if e.asset_key.path[-1] == "trades")
    assert event.materialization.metadata["rows_written"].value == 0
    assert event.materialization.metadata["already_committed_ranges"].value == request.run_key.split(",")
    table = iceberg(cdc).table(tables.TRADES)
    assert (table.scan().to_arrow().num_rows, len(table.snapshots())) == before


def test_additive_optional_field_evolves_the_bronze_schema(cdc):
    from kafka import KafkaProducer

    topic = f"{cdc['prefix']}aladdin.trades"
    record = next(r for r in capture(cdc["firm"]).values()
                  if r["topic"] == "aladdin.trades" and r["value"] and '"op":"c"' in r["value"])
    value = json.loads(record["value"])
    value["after"]["executing_broker"] = "GSCO"
    producer = KafkaProducer(bootstrap_servers=cdc["kafka"].bootstrap_servers)
    metadata = producer.send(topic, key=record["key"].encode(), value=json.dumps(value).encode(),
                             partition=record["partition"]).get(timeout=30)
    producer.close()
    drain(cdc)
    table = iceberg(cdc).table(tables.TRADES)
    assert "executing_broker" in table.schema().column_names
    rows = table.scan().to_arrow().to_pylist()
    [evolved] = [r for r in rows if r["source_partition"] == record["partition"] and
                 r["source_offset"] == metadata.offset]
    assert evolved["executing_broker"] == "GSCO"
    assert sum(1 for r in rows if r["executing_broker"] is not None) == 1


def test_breaking_change_goes_to_dead_letters_and_fails_the_contract_check(cdc):
    from kafka import KafkaProducer

    topic = f"{cdc['prefix']}aladdin.cash_flows"
    record = next(r for r in capture(cdc["firm"]).values() if r["topic"] == "aladdin.cash_flows" and r["value"])
    value = json.loads(record["value"])
    (value["after"] or value["before"])["amount"] = {"currency": "USD", "value": 10}
    producer = KafkaProducer(bootstrap_servers=cdc["kafka"].bootstrap_servers)
    metadata = producer.send(topic, key=record["key"].encode(), value=json.dumps(value).encode(),
                             partition=record["partition"]).get(timeout=30)
    producer.close()
    drain(cdc)
    dead = iceberg(cdc).table(tables.DEAD_LETTERS).scan().to_arrow().to_pylist()
    [hit] = [d for d in dead if d["source_topic"] == "aladdin.cash_flows" and
             (d["source_partition"], d["source_offset"]) == (record["partition"], metadata.offset)]
    assert hit["reason_code"] == "wrong_type" and "amount" in hit["reason"]
    result = cdc["defs"].resolve_job_def("aladdin_cdc_microbatch").execute_in_process(
        instance=cdc["instance"], raise_on_error=False,
        run_config={"ops": {"aladdin_cdc": {"config": {"ranges": []}}}})
    evaluation = next(e for e in result.get_asset_check_evaluations()
                      if e.asset_key.path[-1] == "cash_flows" and e.check_name == "contract_violations")
    assert not evaluation.passed
    assert any(s["source_offset"] == metadata.offset for s in evaluation.metadata["samples"].value) or \
        evaluation.metadata["violations"].value >= 1


def test_broker_restart_mid_stream_resumes_with_no_gap(cdc, monkeypatch):
    managed = cdc["kafka"].managed
    if managed is None:
        pytest.skip("MESH_KAFKA_BOOTSTRAP points at an external broker this test must not restart")
    monkeypatch.setenv("MESH_CDC_MAX_RANGE", "15")
    first = evaluate_sensor(cdc, None)
    for request in first.run_requests:
        assert run_request(cdc, request).success
    broker.stop(managed.data_dir)
    restarted = broker.start(managed.data_dir, port=managed.port, wait_s=120, stop_at_exit=True)
    assert restarted.bootstrap_servers == cdc["kafka"].bootstrap_servers
    monkeypatch.setenv("MESH_CDC_MAX_RANGE", "100000")
    drain(cdc)
    committed = committed_positions(iceberg(cdc).table(tables.TRADES))
    ends = cdc["defs"].resources["cdc_source"].end_offsets("aladdin.trades")
    assert committed == {TopicPartition("aladdin.trades", p): end for p, end in ends.items() if end}
    check = cdc["defs"].resolve_job_def("aladdin_cdc_microbatch").execute_in_process(
        instance=cdc["instance"], raise_on_error=False)
    contiguity = [e for e in check.get_asset_check_evaluations() if e.check_name == "offset_contiguity"]
    assert contiguity and all(e.passed for e in contiguity)


def test_row_count_matches_source_counts_the_batch_on_kafka_against_rows_dead_letters_and_skips(cdc):
    from pyiceberg.expressions import EqualTo

    from mesh_assets.bronze.aladdin_cdc_checks import cdc_checks
    from mesh_assets.lib.lakehouse.positions import RANGES_KEY, decode_ranges, latest_summary_value

    # one run of the sensor's request for trades partition 0 (the whole partition: malformed records, tombstones)
    request = next(r for r in evaluate_sensor(cdc, None).run_requests if r.run_key.startswith("aladdin.trades-0-"))
    assert run_request(cdc, request).success
    check = next(c for c in cdc_checks("aladdin.trades")
                 if next(iter(c.check_specs)).name == "row_count_matches_source")
    resources = {k: cdc["defs"].resources[k] for k in ("iceberg", "cdc_source")}
    trades = iceberg(cdc).table(tables.TRADES)
    _, encoded = latest_summary_value(trades, RANGES_KEY)
    batch = decode_ranges(encoded)
    from dagster import build_asset_check_context

    green = check(build_asset_check_context(instance=cdc["instance"]), **resources)
    assert green.passed, green.description
    meta = {k: v.value for k, v in green.metadata.items()}
    assert meta["records_in_ranges"] == sum(len(r) for r in batch)
    assert meta["table_rows"] + meta["dead_letters_in_ranges"] + meta["skips_in_ranges"] == meta["records_in_ranges"]
    # one row of the latest batch lost: the check names its range
    victim = batch[0]
    landed = [o for p, o in zip(*(trades.scan(selected_fields=("source_partition", "source_offset")).to_arrow()
                                  .to_pydict().values()), strict=True)
              if p == victim.partition and victim.start <= o < victim.end]
    trades.delete(EqualTo("source_partition", victim.partition) & EqualTo("source_offset", max(landed)))
    red = check(build_asset_check_context(instance=cdc["instance"]), **resources)
    assert not red.passed
    assert victim.label() in str(red.metadata["mismatches"].value)


def test_whole_table_checks_read_only_the_batch_the_run_committed(cdc, monkeypatch):
    from dagster import AssetCheckKey, AssetSelection, Definitions, define_asset_job

    from mesh_assets.bronze.aladdin_cdc import TRADES_KEY

    monkeypatch.setenv("MESH_CDC_MAX_RANGE", "7")
    first = evaluate_sensor(cdc, None)
    assert all(run_request(cdc, r).success for r in first.run_requests)
    [second] = [r for r in evaluate_sensor(cdc, first.cursor).run_requests if r.tags["mesh/topic-partition"] ==
                "aladdin.trades"]
    result = run_request(cdc, second)
    assert result.success
    snapshot = next(e for e in result.get_asset_materialization_events()
                    if e.asset_key == TRADES_KEY).materialization.metadata["snapshot_id"].value
    for name in ("exactly_once_source_offsets", "required_fields_present", "known_ids"):
        [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == name
                        and e.asset_key == TRADES_KEY]
        meta = {k: v.value for k, v in evaluation.metadata.items()}
        assert meta["checked_snapshot_id"] == snapshot, (name, meta)
        assert evaluation.passed or name == "known_ids"  # no reference data loaded here: unknown ids, as it says
        assert meta["checked_ranges"] == second.run_key.split(",") and result.run_id[:8] in meta["checked_batch"]
    # a row of that batch written twice (by hand): the check, launched on its own, finds it in the newest commit
    trades = iceberg(cdc).table(tables.TRADES)
    victim = parse(second.run_key.split(",")[0])
    from pyiceberg.expressions import EqualTo

    row = trades.scan(row_filter=EqualTo("source_partition", victim.partition)
                      & EqualTo("source_offset", victim.start)).to_arrow()
    trades.append(row.cast(trades.schema().as_arrow()))
    job = define_asset_job("exactly_once_on_demand", selection=AssetSelection.checks(
        AssetCheckKey(TRADES_KEY, "exactly_once_source_offsets")))
    defs = Definitions.merge(cdc["defs"], Definitions(jobs=[job]))
    [red] = defs.resolve_job_def(job.name).execute_in_process(
        instance=cdc["instance"], raise_on_error=False).get_asset_check_evaluations()
    assert not red.passed and red.metadata["checked_ranges"].value == second.run_key.split(",")
    assert "newest exactly-once commit" in red.metadata["checked_batch"].value
