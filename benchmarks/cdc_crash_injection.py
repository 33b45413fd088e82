"""Long crash-injection run (by hand): hundreds of SIGKILLed CDC micro-batches, then an exact reconciliation.

`uv run python benchmarks/cdc_crash_injection.py [--crashes 500] [--scale small|medium] [--max-records 5]`
starts its own Kafka broker, replays the firm's capture into fresh topics, runs the crash harness
(mesh_dev/crash_harness.py) and prints JSON: batches, crashes by point, wall time, rows lost
and duplicated (both must be 0).
"""

import argparse
import json
import resource
import tempfile
import time
import uuid
from pathlib import Path

from mesh_assets.lib.lakehouse import tables
from mesh_dev.firm import generate_firm
from mesh_dev.local import cdc_producer, crash_harness
from mesh_dev.local import kafka_broker as broker


def reconcile(firm: Path, iceberg, manifest: dict) -> dict:
    """Rows lost and duplicated per CDC table, against the capture."""
    bad = {(r["topic"], r["partition"], r["offset"])
           for key in ("malformed_records", "tombstones") for r in manifest["edge_cases"][key]}
    out = {}
    for topic, spec in tables.CDC_TABLES.items():
        rows = iceberg.table(spec).scan(selected_fields=("source_partition", "source_offset")).to_arrow()
        landed = list(zip(rows["source_partition"].to_pylist(), rows["source_offset"].to_pylist(), strict=True))
        expected = set()
        for line in (firm / "aladdin" / "cdc" / f"{topic}.jsonl").read_text().splitlines():
            record = json.loads(line)
            if (topic, record["partition"], record["offset"]) not in bad:
                expected.add((record["partition"], record["offset"]))
        out[topic] = {"rows": len(landed), "expected": len(expected), "duplicated": len(landed) - len(set(landed)),
                      "lost": len(expected - set(landed))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--crashes", type=int, default=500)
    parser.add_argument("--scale", default="small")
    parser.add_argument("--max-records", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mesh-crash-") as tmp:
        root = Path(tmp)
        manifest = generate_firm(root / "firm", scale=args.scale, seed=7)
        info = broker.start(root / "kafka", port=broker.find_free_port_pair(), wait_s=120, stop_at_exit=True)
        try:
            prefix = f"crash{uuid.uuid4().hex[:6]}."
            cdc_producer.ensure_cdc_topics(info.bootstrap_servers, manifest["kafka_partitions"], topic_prefix=prefix)
            cdc_producer.produce_capture(info.bootstrap_servers, cdc_producer.capture_dir(root / "firm"),
                                         topic_prefix=prefix)
            started = time.perf_counter()
            report = crash_harness.run(info.bootstrap_servers, prefix, root / "lakehouse", min_crashes=args.crashes,
                                       max_records=args.max_records)
            _, iceberg = crash_harness._resources(info.bootstrap_servers, prefix, root / "lakehouse")
            result = {
                "benchmark": "cdc_crash_injection", "scale": args.scale, "max_records_per_batch": args.max_records,
                "batches": report.batches, "crashes": report.crashes, "crashes_by_point": report.crashes_by_point,
                "wall_s": round(time.perf_counter() - started, 1),
                "batches_per_s": round(report.batches / max(report.wall_s, 1e-9), 2),
                "reconciliation": reconcile(root / "firm", iceberg, manifest),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        finally:
            broker.stop(root / "kafka")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
