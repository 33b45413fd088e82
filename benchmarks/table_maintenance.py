"""What the weekly table maintenance buys a CDC-like table (by hand).

`uv run python benchmarks/table_maintenance.py [--commits 300] [--rows 50]` builds a dead-letters table of
``--commits`` small exactly-once appends (two partitions, source positions in every snapshot summary, the bronze
writer's own code) in a fresh local catalog, measures an exactly-once append, a committed-position read and a full
scan (baseline), launches the `table_maintenance` job the way the UI does (`dagster job launch` through the
instance's run launcher), and measures the same again. Prints JSON: files, snapshots, metadata size and the
timings before and after, each as a ratio to the baseline of the same run, and the run's wall time.
"""

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow as pa

from mesh_assets.lib.cdc.records import OffsetRange
from mesh_assets.lib.lakehouse.exactly_once import append_exactly_once
from mesh_assets.lib.lakehouse.positions import committed_positions
from mesh_assets.lib.lakehouse.tables import DEAD_LETTERS
from resources.iceberg import IcebergCatalogResource

ROOT = Path(__file__).resolve().parents[1]
TOPIC = "aladdin.trades"


def rows(partition: int, start: int, count: int) -> pa.Table:
    offsets = list(range(start, start + count))
    n = len(offsets)
    return pa.Table.from_pydict(
        {"source_topic": [TOPIC] * n, "source_partition": [partition] * n, "source_offset": offsets,
         "source_timestamp_ms": [0] * n, "record_key": ["k"] * n, "raw_value": [b"{}"] * n,
         "reason_code": ["invalid_json"] * n, "reason": ["benchmark"] * n,
         "ingested_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * n, "batch_id": ["b"] * n},
        schema=DEAD_LETTERS.schema)


def measure(load, next_offset: dict[int, int], per_commit: int, repeats: int = 5) -> dict:
    """Median ms of an exactly-once append, a committed-position read and a full scan; the table's shape."""
    appends, reads, scans = [], [], []
    for _ in range(repeats):
        start = next_offset[0]
        began = time.perf_counter()
        append_exactly_once(load, [OffsetRange(TOPIC, 0, start, start + per_commit)], rows(0, start, per_commit))
        appends.append(time.perf_counter() - began)
        next_offset[0] = start + per_commit
        began = time.perf_counter()
        committed_positions(load())
        reads.append(time.perf_counter() - began)
        began = time.perf_counter()
        load().scan().to_arrow()
        scans.append(time.perf_counter() - began)
    table = load()
    metadata = Path(table.metadata_location.removeprefix("file://"))
    return {"files": len(list(table.scan().plan_files())), "snapshots": len(table.snapshots()),
            "metadata_bytes": metadata.stat().st_size,
            "append_ms": round(statistics.median(appends) * 1000, 1),
            "positions_read_ms": round(statistics.median(reads) * 1000, 1),
            "scan_ms": round(statistics.median(scans) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--rows", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mesh-maintenance-") as tmp:
        root = Path(tmp)
        data = root / "data"
        iceberg = IcebergCatalogResource(catalog_type="sql", uri=f"sqlite:///{data / 'lakehouse' / 'catalog.db'}",
                                         warehouse=f"file://{data / 'lakehouse' / 'warehouse'}")
        load = iceberg.loader(DEAD_LETTERS)
        next_offset = {0: 0, 1: 0}
        began = time.perf_counter()
        for number in range(args.commits):
            partition = number % 2
            start = next_offset[partition]
            append_exactly_once(load, [OffsetRange(TOPIC, partition, start, start + args.rows)],
                                rows(partition, start, args.rows))
            next_offset[partition] = start + args.rows
        build_s = time.perf_counter() - began
        before = measure(load, next_offset, args.rows)
        home = root / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("run_coordinator:\n  module: dagster._core.run_coordinator\n"
                                           "  class: DefaultRunCoordinator\ntelemetry:\n  enabled: false\n")
        env = {**os.environ, "DAGSTER_HOME": str(home), "MESH_ENV": "local", "MESH_DATA_DIR": str(data),
               "MESH_SNAPSHOT_RETENTION_DAYS": "0"}
        run_id = str(uuid.uuid4())
        began = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "dagster"), "job", "launch", "-w",
                        str(ROOT / "workspace.yaml"), "-j", "table_maintenance", "--run-id", run_id],
                       cwd=ROOT, env=env, check=True, capture_output=True, timeout=900)
        os.environ["DAGSTER_HOME"] = str(home)
        from dagster import DagsterInstance

        with DagsterInstance.get() as instance:
            while not (run := instance.get_run_by_id(run_id)).is_finished:
                time.sleep(0.2)
            stats = instance.get_run_stats(run_id)
        run_wall_s = time.perf_counter() - began
        after = measure(load, next_offset, args.rows)
        print(json.dumps({
            "commits": args.commits, "rows_per_commit": args.rows, "build_s": round(build_s, 1),
            "run_status": run.status.value, "run_wall_s": round(run_wall_s, 1),
            "run_duration_s": round((stats.end_time or 0) - (stats.start_time or 0), 1),
            "before": before, "after": after,
            "ratios_after_to_before": {k: round(after[k] / before[k], 3) for k in before if before[k]},
        }, indent=2))


if __name__ == "__main__":
    main()
