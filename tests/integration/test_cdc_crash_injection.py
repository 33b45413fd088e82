"""Crash injection on the real broker: ≥ 50 SIGKILLs at every commit point, then 0 lost and 0 duplicated rows."""

import json
import uuid

from mesh_assets.lib.cdc.microbatch_plan import find_gaps
from mesh_assets.lib.lakehouse import tables
from mesh_assets.lib.lakehouse.fault_injection import POINTS
from mesh_assets.lib.lakehouse.positions import committed_ranges_history
from mesh_dev import crash_harness
from mesh_dev.local import cdc_producer


def test_fifty_crashes_lose_and_duplicate_nothing(kafka_broker, small_firm, tmp_path):
    prefix = f"crash{uuid.uuid4().hex[:8]}."
    bootstrap = kafka_broker.bootstrap_servers
    manifest = json.loads((small_firm / "firm.json").read_text())
    cdc_producer.ensure_cdc_topics(bootstrap, manifest["kafka_partitions"], topic_prefix=prefix)
    cdc_producer.produce_capture(bootstrap, cdc_producer.capture_dir(small_firm), topic_prefix=prefix)
    lakehouse = tmp_path / "lakehouse"

    report = crash_harness.run(bootstrap, prefix, lakehouse, min_crashes=50, max_records=2)

    print(report)
    assert report.crashes >= 50, report
    assert set(report.crashes_by_point) == set(POINTS), report.crashes_by_point
    assert not crash_harness.pending(bootstrap, prefix, lakehouse, 2), "bronze did not catch up"
    _, iceberg = crash_harness._resources(bootstrap, prefix, lakehouse)
    malformed = {(r["topic"], r["partition"], r["offset"]) for r in manifest["edge_cases"]["malformed_records"]}
    tombstones = {(r["topic"], r["partition"], r["offset"]) for r in manifest["edge_cases"]["tombstones"]}
    for topic, spec in tables.CDC_TABLES.items():
        rows = iceberg.table(spec).scan().to_arrow()
        landed = list(zip(rows["source_partition"].to_pylist(), rows["source_offset"].to_pylist(), strict=True))
        assert len(landed) == len(set(landed)), f"{topic}: duplicated rows after crashes"
        expected = {(p, o) for line in (small_firm / "aladdin" / "cdc" / f"{topic}.jsonl").read_text().splitlines()
                    for r in [json.loads(line)] for p, o in [(r["partition"], r["offset"])]
                    if (topic, p, o) not in malformed | tombstones}
        assert set(landed) == expected, f"{topic}: lost {len(expected - set(landed))} rows after crashes"
        assert find_gaps([r for _, r in committed_ranges_history(iceberg.table(spec))]) == []
    dead = iceberg.table(tables.DEAD_LETTERS).scan().to_arrow()
    dead_positions = list(zip(dead["source_topic"].to_pylist(), dead["source_partition"].to_pylist(),
                              dead["source_offset"].to_pylist(), strict=True))
    assert len(dead_positions) == len(set(dead_positions)) and set(dead_positions) == malformed
