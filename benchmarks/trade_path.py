"""Benchmark: the low-latency trade path, from a trade produced to its enriched record (and alert) readable.

Run by hand (not in CI): ``uv run python benchmarks/trade_path.py [--rates 1000,5000,10000] [--seconds 20]``.

In one run, on this machine, against its own local Kafka broker (started in a temporary folder, stopped at the
end):

1. builds a small warehouse (DuckDB file: ``silver.prices``, ``silver.trades``, ``gold.positions``,
   ``gold.nav_history`` for 1,000 portfolios and 3,000 securities) that the worker warms its reference book from;
2. starts the real worker (``python -m trade_worker``, its own process, default settings) and
   waits until its health file says ready;
3. for each rate: a producer process sends trade CDC events (Debezium envelopes, keyed by portfolio, ~1% priced
   more than 2% off the close) at that fixed rate for ``--seconds``; this process consumes ``trades.execution``
   and ``risk.alerts`` and measures, per record, the time from the input's produce timestamp (the Kafka
   record timestamp set at ``send``, carried as ``source_timestamp_ms``; an alert is matched to its trade by
   ``event_id``) to the moment the output was returned by ``poll`` here: p50 / p99 / p99.9 / max, and whether
   every trade came out (only this phase's trades count; the worker catches up before the next phase);
4. max sustained throughput: the worker is stopped (SIGTERM), ``--backlog`` trades are produced, the worker is
   started again and the time until the last enriched record is readable gives trades/s (warm-up excluded);
5. the hot table's row count equals the trades produced (exactly once), reported as ``hot_table_rows``.

Before the worker starts, ``baseline_one_kafka_hop`` measures one bare hop on the same broker (the same producer
at 1K/s into a scratch topic, read by a consumer with the reader's settings): the floor that the trade path's two
hops (input topic -> worker -> output topic) add to the worker's own time. Each enriched phase also splits its
latency at the worker's send (the output record's CreateTime): ``produce_to_worker_send`` and
``worker_send_to_readable``.

Prints one JSON document. Goals (issue 7): p99 < 20 ms at 1K/s (the promise is < 100 ms) and >= 10,000
trades/s sustained.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchkit.trade_events import (  # noqa: E402
    PARTITIONS,
    PORTFOLIOS,
    SECURITIES,
    build_warehouse,
    produce,
    produce_entry,
)
from benchkit.trade_latency import OutputReader, bare_hop, summarize  # noqa: E402
from benchkit.trade_worker_process import Worker, hot_table_rows  # noqa: E402

TOPIC = "aladdin.trades"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="1000,5000,10000", help="fixed producer rates, trades/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each rate runs")
    parser.add_argument("--backlog", type=int, default=200_000, help="trades for the max-throughput phase")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data)")
    parser.add_argument("--profile-worker", type=Path, default=None,
                        help="cProfile the worker's hot thread into <this path>.<pid> (one file per start)")
    args = parser.parse_args()

    from mesh_dev.local import kafka_broker
    from trade_worker.settings import CatalogSettings  # noqa: F401  (fail early if the worker is absent)

    work = Path(tempfile.mkdtemp(prefix="trade-path-bench-"))
    as_of = dt.date(2026, 11, 20)
    trade_date = "2026-11-23"
    result: dict = {"benchmark": "trade_path", "machine": {"cpus": os.cpu_count()}, "portfolios": PORTFOLIOS,
                    "securities": SECURITIES, "partitions": PARTITIONS, "phases": []}
    info = kafka_broker.start(work / "kafka", port=kafka_broker.find_free_port_pair(), wait_s=120,
                              stop_at_exit=True)
    try:
        bootstrap = info.bootstrap_servers
        prefix = "bench."
        from kafka.admin import NewTopic

        from resources.kafka_client import new_admin

        admin = new_admin(bootstrap)
        admin.create_topics([NewTopic(f"{prefix}{TOPIC}", num_partitions=PARTITIONS, replication_factor=1),
                             NewTopic(f"{prefix}hop", num_partitions=PARTITIONS, replication_factor=1)])
        admin.close()
        result["baseline_one_kafka_hop"] = bare_hop(bootstrap, f"{prefix}hop", 1000.0, min(args.seconds, 10.0),
                                                    trade_date)
        print(json.dumps(result["baseline_one_kafka_hop"]), file=sys.stderr)
        build_warehouse(work / "warehouse.duckdb", as_of)
        worker = Worker(work, bootstrap, prefix, work / "warehouse.duckdb", args.profile_worker)
        result["worker_ready_s"] = round(worker.start(), 2)
        reader = OutputReader(bootstrap, prefix)
        produced = 0
        ctx = multiprocessing.get_context("spawn")
        for rate in [float(r) for r in args.rates.split(",")]:
            count = int(rate * args.seconds)
            out = ctx.Queue()
            sender = ctx.Process(target=produce_entry,
                                 args=((bootstrap, f"{prefix}{TOPIC}", rate, count, produced, trade_date), out))
            sender.start()
            seen = reader.read(produced, count, timeout_s=args.seconds + 60)
            sender.join()
            sent = out.get()
            produced += count
            caught_up = worker.wait_caught_up(produced, "consumed_offsets", 300)  # the next phase starts clean
            worker.sample_rss()
            trades = seen["latencies"]["execution"]
            result["phases"].append({
                "rate_per_s": rate, "producer": sent, "enriched_trades_read": len(trades),
                "kept_up": len(trades) >= count, "caught_up_after": caught_up,
                "enriched": summarize(trades), "alerts": summarize(seen["latencies"]["alerts"]),
                "enriched_stages": {name: summarize(values) for name, values in seen["stages"].items()},
            })
            print(json.dumps(result["phases"][-1]), file=sys.stderr)

        # Max sustained throughput: a backlog drained by a freshly started worker.
        assert worker.stop() == 0, "worker did not exit 0 on SIGTERM"
        backlog = produce(bootstrap, f"{prefix}{TOPIC}", None, args.backlog, produced, trade_date)
        ready_s = worker.start()
        ready_at = time.time() * 1000
        seen = reader.read(produced, args.backlog, timeout_s=600)
        produced += args.backlog
        drained = len(seen["latencies"]["execution"])
        drain_s = (seen["last_ms"] - ready_at) / 1000 if seen["last_ms"] else None
        result["max_throughput"] = {
            "backlog": args.backlog, "producer": backlog, "worker_ready_s": round(ready_s, 2),
            "enriched_trades_read": drained, "drain_s": round(drain_s, 3) if drain_s else None,
            "trades_per_s": round(drained / drain_s, 1) if drain_s else None,
        }
        result["max_throughput"]["committed_all"] = worker.wait_caught_up(produced, "committed_offsets", 120)
        assert worker.stop() == 0, "worker did not exit 0 on SIGTERM"
        reader.close()
        result["produced_total"] = produced
        result["hot_table_rows"] = hot_table_rows(work)
        result["exactly_once"] = result["hot_table_rows"] == produced
        result["worker_peak_rss_mb"] = round(worker.peak_rss_mb, 1)
        goal_phase = next((p for p in result["phases"] if p["rate_per_s"] == 1000), None)
        result["goals"] = {
            "p99_under_20ms_at_1k": bool(goal_phase and goal_phase["enriched"].get("p99_ms", 1e9) < 20),
            "at_least_10k_per_s": bool(result["max_throughput"]["trades_per_s"]
                                       and result["max_throughput"]["trades_per_s"] >= 10_000),
        }
    finally:
        kafka_broker.stop(work / "kafka")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            result["work_dir"] = str(work)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
