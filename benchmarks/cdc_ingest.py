"""Benchmark: Aladdin CDC from a real Kafka broker into bronze Iceberg, against the client's own ceiling.

Run by hand (not in CI): ``uv run python benchmarks/cdc_ingest.py [--events 600000] [--batch-sizes 1000,10000,100000]``.

In one process, against its own local broker (:mod:`mesh_dev.local.kafka_broker`, started on a free port in
a temporary data folder and stopped at the end):

1. synthesizes ``--events`` valid trade CDC events (Debezium envelopes like the firm's, ~400-byte values) as a
   capture file and produces it to a fresh topic ``aladdin.trades`` (``--partitions`` partitions) with
   :func:`mesh_dev.local.cdc_producer.produce_capture`;
2. (a) bare kafka-python consume throughput of the whole topic (assign all partitions, seek to the beginning,
   poll until every end offset is reached), each in a fresh Python process, for a few fetch settings; the best
   variant again right before and right after each batch size (the machine's speed drifts); the best bare run
   of the whole benchmark is this client's ceiling;
3. (b) end-to-end ingest (read by offset range + parse + validate + Iceberg commit: ``ingest_topic``) for each
   batch size, into a fresh SQLite-catalog Iceberg warehouse: sequential batches over every partition
   (``batch_size / partitions`` offsets per partition) until the topic is consumed or ``--budget-s`` is spent.
   Reports events/s, ``ingest_topic`` latency p50/p99 per batch, CPU microseconds per event of the ingesting
   process and of the reader helper, and the ratio (b)/(a) to the ceiling and to the bare runs around it.
   Reads of >= ``resources.kafka.PROCESS_MIN_RECORDS`` records run in the reader's helper process (one
   kafka-python consumer, like (a), decoding on another core); it is started before the clock, like the
   tables, and its start cost is reported as ``helper_start``.

4. ``--rounds`` more ingest runs at the best batch size, each between two bare runs of the best variant.

Two ratios (b)/(a) are reported for the best batch size: against the best bare run of the whole benchmark
(strict: the machine's speed drifts by +-25% between minutes, so that compares a typical moment of the
ingest with the client's luckiest one), and the median of each ingest run against the bare runs right
before and after it (the same moments: the fair comparison on a machine that drifts).

Prints one JSON document (stdout). ``--profile`` adds the top functions of a cProfile of a few batches at the
best batch size, split into read / parse / commit times. Goal (issue): (b) >= 70% of (a) and >= 50,000
events/s on 2 cores at the best batch size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchkit.cdc_capture import TOPIC, synthesize_capture  # noqa: E402
from benchkit.cdc_ingest_changes import CHANGES  # noqa: E402
from benchkit.cdc_ingest_runs import helper_peak_rss_mb, helper_start, ingest_run, interleaved_rounds  # noqa: E402
from benchkit.kafka_bare import bare_consume, bare_consume_fresh  # noqa: E402
from benchkit.process_stats import peak_rss_mb  # noqa: E402

from mesh_dev.local import cdc_producer, kafka_broker  # noqa: E402

# user_paths_cdc.py reads the same capture and the same ceiling through this script's names
__all__ = ["TOPIC", "bare_consume", "bare_consume_fresh", "main", "synthesize_capture"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=600_000, help="events produced (600K: six 100K batches)")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-sizes", default="1000,10000,100000")
    parser.add_argument("--budget-s", type=float, default=150.0, help="time budget per batch size")
    parser.add_argument("--rounds", type=int, default=3,
                        help="extra ingest runs at the best batch size, interleaved with bare runs")
    parser.add_argument("--profile", action="store_true", help="profile 3 batches at the best batch size")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (broker data, warehouses)")
    args = parser.parse_args()
    batch_sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]

    work = Path(tempfile.mkdtemp(prefix="mesh-bench-cdc-"))
    report: dict = {
        "changes": CHANGES,
        "events": args.events,
        "partitions": args.partitions,
        "cpu_count": os.cpu_count(),
        "loadavg_1_5_15_at_start": [round(x, 2) for x in os.getloadavg()],
        "work": str(work),
    }
    began = time.perf_counter()
    info = None
    try:
        t0 = time.perf_counter()
        for attempt in range(3):
            try:
                info = kafka_broker.start(
                    work / "kafka", port=kafka_broker.find_free_port_pair(), wait_s=120, stop_at_exit=True
                )
                break
            except kafka_broker.PortInUseError:
                if attempt == 2:
                    raise
        assert info is not None
        bootstrap = info.bootstrap_servers
        report["broker"] = {
            "bootstrap": bootstrap,
            "version": info.version,
            "start_s": round(time.perf_counter() - t0, 2),
        }

        t0 = time.perf_counter()
        capture = work / "capture"
        report["data"] = synthesize_capture(capture / f"{TOPIC}.jsonl", args.events, args.partitions)
        report["data"]["synthesize_s"] = round(time.perf_counter() - t0, 2)
        cdc_producer.ensure_cdc_topics(bootstrap, args.partitions, (TOPIC,))
        produced = cdc_producer.produce_capture(bootstrap, capture, (TOPIC,))
        report["produce"] = {k: produced[k] for k in ("records", "bytes", "offsets_match_capture", "elapsed_s",
                                                      "records_per_s", "mb_per_s")}  # fmt: skip
        (capture / f"{TOPIC}.jsonl").unlink()

        from kafka.record import util as record_util

        report["kafka_python_crc32c"] = "C (crc32c package)" if record_util.crc32c_c is not None else "pure Python"
        variants = [
            {"max_poll_records": 500},  # kafka-python defaults otherwise
            {"max_poll_records": 20_000, "fetch_max_bytes": 64 << 20, "max_partition_fetch_bytes": 16 << 20,
             "check_crcs": True},
            {"max_poll_records": 20_000, "fetch_max_bytes": 64 << 20, "max_partition_fetch_bytes": 16 << 20,
             "check_crcs": False},
            {"max_poll_records": 50_000, "fetch_max_bytes": 128 << 20, "max_partition_fetch_bytes": 32 << 20,
             "fetch_max_wait_ms": 50, "check_crcs": False},
        ]  # fmt: skip
        bare_runs = [bare_consume_fresh(bootstrap, args.partitions, **v) for v in variants]
        best_variant = max(bare_runs, key=lambda r: r["records_per_s"])["settings"]
        report["peak_rss_mb_after_bare"] = peak_rss_mb()

        report["helper_start"] = helper_start(bootstrap)
        runs = []
        for size in batch_sizes:
            # The machine is shared and its speed drifts (+-20% between minutes): the best variant again right
            # before and right after each size shows what the client could do at that moment.
            before = bare_consume_fresh(bootstrap, args.partitions, **best_variant)
            run = ingest_run(bootstrap, work, size, args.budget_s)
            after = bare_consume_fresh(bootstrap, args.partitions, **best_variant)
            bare_runs += [before, after]
            adjacent = round((before["records_per_s"] + after["records_per_s"]) / 2, 1)
            run["bare_adjacent_records_per_s"] = [before["records_per_s"], after["records_per_s"]]
            run["ratio_to_adjacent_bare"] = round(run["events_per_s"] / adjacent, 3) if run["events_per_s"] else None
            run["loadavg_1_after"] = round(os.getloadavg()[0], 2)
            runs.append(run)
            print(f"batch {size}: {run['events_per_s']} events/s, p50 {run['latency_p50_s']} s (bare around it: "
                  f"{before['records_per_s']}, {after['records_per_s']})", file=sys.stderr)
        best_size = max(runs, key=lambda r: r["events_per_s"] or 0)["batch_size"]
        interleaved = interleaved_rounds(bootstrap, work, args.partitions, best_size, best_variant, args.rounds,
                                         args.budget_s, first_bare=runs[-1]["bare_adjacent_records_per_s"][1]
                                         if batch_sizes[-1] == best_size else None)  # fmt: skip
        bare_runs += interleaved.pop("bare_runs")
        # Strict: the best bare run of the whole benchmark (every variant, every adjacent run), whatever the
        # machine's speed was during the ingest. The machine's speed drifts by +-25% between minutes, so this
        # compares the ingest at a typical moment with the client at its luckiest one.
        ceiling = max(r["records_per_s"] for r in bare_runs)
        report["bare_consume"] = {"runs": bare_runs, "process": "a fresh Python process per run",
                                  "ceiling_records_per_s": ceiling}  # fmt: skip
        for run in runs:
            run["ratio_to_bare"] = round(run["events_per_s"] / ceiling, 3) if run["events_per_s"] else None
        report["ingest"] = runs
        report["interleaved"] = interleaved
        samples = [r["events_per_s"] for r in runs if r["batch_size"] == best_size] + interleaved["ingest_events_per_s"]
        median_ingest = statistics.median(samples)
        paired = [r["ratio_to_adjacent_bare"] for r in runs if r["batch_size"] == best_size] + interleaved["ratios"]
        median_paired = round(statistics.median(paired), 3)
        report["best"] = {
            "batch_size": best_size,
            "ingest_runs_events_per_s": samples,
            "median_events_per_s": round(median_ingest, 1),
            "min_events_per_s": min(samples),
            "ratio_to_best_bare_run": round(median_ingest / ceiling, 3),
            "ratios_to_bare_runs_around_each": paired,
            "median_ratio_to_bare_runs_around_each": median_paired,
            "goal_ratio_0_70_vs_bare_runs_around_each": median_paired >= 0.70,
            "goal_ratio_0_70_vs_best_bare_run": median_ingest / ceiling >= 0.70,
            "goal_50k_events_per_s": min(samples) >= 50_000,
        }
        if args.profile:
            report["profile"] = ingest_run(bootstrap, work, best_size, args.budget_s, profile=True)["profile"]
    finally:
        if info is not None:
            kafka_broker.stop(work / "kafka")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report["wall_s"] = round(time.perf_counter() - began, 2)
    report["peak_rss_mb"] = peak_rss_mb()
    report["helper_peak_rss_mb"] = helper_peak_rss_mb()
    report["loadavg_1_5_15_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
