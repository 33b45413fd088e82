"""What the CDC sensor's retry and stall logic costs per tick.

`uv run python benchmarks/cdc_sensor_tick.py [--rounds 15]` starts its own Kafka broker, replays the small
firm's capture into fresh topics, commits it to a fresh Iceberg catalog with the micro-batch job, then
makes one partition stuck (its first offsets deleted on the broker, one failed run, max attempts 1) and
another lagging (new records, not ingested). It then times, in interleaved rounds:

* ``baseline``: the reads any tick must do: end offsets and committed positions of both topics;
* ``tick``: a full ``aladdin_cdc_sensor`` evaluation (the same reads, plus the failed-run history, the
  retry decisions, the stall verdicts with their snapshot-metadata walk, and the check evaluations).

It also times the pure ``last_commit_ms`` walk over 10,000 synthetic commits where the wanted partition
last committed in the oldest one (the worst case for a stuck partition). Prints JSON.
"""

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from mesh_assets.lib.cdc.records import OffsetRange
from mesh_dev.firm import generate_firm
from mesh_dev.local import cdc_producer
from mesh_dev.local import kafka_broker as broker


def _lose_and_add(bootstrap: str, prefix: str) -> None:
    """Partition 1 of trades: 3 new records, the first 3 offsets deleted. Partition 2: 5 new records."""
    from kafka import TopicPartition as KafkaPartition

    from resources.kafka_client import new_admin, new_producer

    producer = new_producer(bootstrap)
    for partition, count in ((1, 3), (2, 5)):
        for _ in range(count):
            producer.send(f"{prefix}aladdin.trades", key=b"k", value=b'{"op":"r"}', partition=partition)
    producer.flush(timeout=30)
    producer.close()
    admin = new_admin(bootstrap)
    admin.delete_records({KafkaPartition(f"{prefix}aladdin.trades", 1): 3}, timeout_ms=30_000)
    admin.close()


def _pure_walk_ms() -> float:
    from mesh_assets.bronze.cdc_stall import last_commit_ms
    from mesh_assets.lib.cdc.records import TopicPartition

    commits = [(10_000 - i, [OffsetRange("aladdin.trades", i % 4, i, i + 1)]) for i in range(10_000)]
    commits[-1] = (0, [OffsetRange("aladdin.trades", 9, 0, 1)])
    started = time.perf_counter()
    found = last_commit_ms(commits, [TopicPartition("aladdin.trades", 9)])
    elapsed = (time.perf_counter() - started) * 1000
    assert found == {TopicPartition("aladdin.trades", 9): 0}
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mesh-sensor-tick-") as tmp:
        root = Path(tmp)
        manifest = generate_firm(root / "firm", scale="small", seed=7)
        info = broker.start(root / "kafka", port=broker.find_free_port_pair(), wait_s=120, stop_at_exit=True)
        try:
            prefix = f"tick{uuid.uuid4().hex[:6]}."
            cdc_producer.ensure_cdc_topics(info.bootstrap_servers, manifest["kafka_partitions"], topic_prefix=prefix)
            cdc_producer.produce_capture(info.bootstrap_servers, cdc_producer.capture_dir(root / "firm"),
                                         topic_prefix=prefix)
            os.environ.update({"MESH_ENV": "local", "MESH_KAFKA_BOOTSTRAP": info.bootstrap_servers,
                               "MESH_KAFKA_TOPIC_PREFIX": prefix, "MESH_DATA_DIR": str(root / "data"),
                               "MESH_FIRM_DIR": str(root / "firm"), "MESH_CDC_MAX_ATTEMPTS": "1"})
            print(json.dumps(measure(info.bootstrap_servers, prefix, root, args.rounds), indent=2))
        finally:
            broker.stop(root / "kafka")


def measure(bootstrap: str, prefix: str, root: Path, rounds: int) -> dict:
    """Set up the stuck and lagging partitions, then time baseline reads and full ticks, interleaved."""
    from dagster import DagsterInstance, build_sensor_context

    from mesh_assets.bronze.aladdin_cdc import committed_for_topic
    from mesh_assets.definitions import build_definitions
    from mesh_assets.lib.cdc import CONTRACTS
    from mesh_assets.lib.lakehouse import tables
    from sensors.aladdin_cdc_sensor import aladdin_cdc_sensor

    defs = build_definitions()
    (root / "dagster_home").mkdir()
    instance = DagsterInstance.local_temp(str(root / "dagster_home"))
    job = defs.resolve_job_def("aladdin_cdc_microbatch")
    assert job.execute_in_process(instance=instance, run_config={"ops": {"aladdin_cdc": {"config": {"ranges": []}}}}
                                  ).success
    _lose_and_add(bootstrap, prefix)
    resources = {k: defs.resources[k] for k in ("cdc_source", "iceberg")}
    first = aladdin_cdc_sensor(build_sensor_context(instance=instance, resources=resources))
    cursor = first.cursor
    for _ in range(2):  # the topic's shared run fails, then trades-1's run of its own: it waits out its backoff
        [stuck] = [r for r in first.run_requests if "aladdin.trades-1-" in r.tags["mesh/offset-range"]]
        failed = job.execute_in_process(instance=instance, run_config=stuck.run_config, raise_on_error=False,
                                        tags={**stuck.tags, "dagster/run_key": stuck.run_key})
        assert not failed.success
        first = aladdin_cdc_sensor(build_sensor_context(instance=instance, cursor=cursor, resources=resources))
        cursor = first.cursor
    cdc_source, iceberg = resources["cdc_source"], resources["iceberg"]

    def baseline() -> None:
        for topic in sorted(CONTRACTS):
            cdc_source.end_offsets(topic)
            committed_for_topic(iceberg, topic)

    held = None

    def tick() -> None:
        nonlocal held
        result = aladdin_cdc_sensor(build_sensor_context(instance=instance, cursor=cursor, resources=resources))
        held = [r.tags["mesh/topic-partition"] for r in result.run_requests]

    for fn in (baseline, tick):  # warm the catalog and the consumer
        fn()
    times: dict[str, list[float]] = {"baseline": [], "tick": []}
    for _ in range(rounds):
        for name, fn in (("baseline", baseline), ("tick", tick)):
            started = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - started) * 1000)
    assert held is not None and "aladdin.trades-1" not in held and "aladdin.trades-2" in held
    base, full = statistics.median(times["baseline"]), statistics.median(times["tick"])
    return {
        "rounds": rounds,
        "baseline_reads_ms_median": round(base, 1),
        "sensor_tick_ms_median": round(full, 1),
        "tick_over_baseline_ratio": round(full / base, 2),
        "tick_extra_ms_median": round(full - base, 1),
        "stuck_partition_held_back": "aladdin.trades-1" not in held,
        "pure_last_commit_walk_10k_commits_ms": round(_pure_walk_ms(), 2),
        "snapshots_in_trades_table": len(iceberg.table(tables.TRADES).snapshots()),
    }


if __name__ == "__main__":
    main()
