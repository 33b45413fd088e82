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
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOPIC = "aladdin.trades"
PORTFOLIOS = 1_000
SECURITIES = 3_000
PARTITIONS = 6


def _close(security: int) -> float:
    return round(10 + (security * 7919 % 89_000) / 100, 4)


def build_warehouse(path: Path, as_of: dt.date) -> None:
    """The end-of-day relations the worker reads, with one close per security and a book per portfolio."""
    import duckdb

    rng = random.Random(11)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema silver; create schema gold")
        con.execute("create table silver.prices (security_id varchar, price_date date, px_last double)")
        con.executemany("insert into silver.prices values (?, ?, ?)",
                        [(f"S-{s:05d}", as_of, _close(s)) for s in range(SECURITIES)])
        con.execute("create table silver.trades (portfolio_id varchar, security_id varchar, trade_date date, "
                    "signed_quantity double, price double)")
        con.execute("create table gold.positions (as_of_date date, portfolio_id varchar, security_id varchar, "
                    "quantity double, is_cash boolean)")
        positions, trades = [], []
        for p in range(PORTFOLIOS):
            for s in rng.sample(range(SECURITIES), 20):
                quantity = float(rng.randrange(100, 5_000))
                positions.append((as_of, f"P-{p:04d}", f"S-{s:05d}", quantity, False))
                trades.append((f"P-{p:04d}", f"S-{s:05d}", as_of, quantity, _close(s)))
        con.executemany("insert into gold.positions values (?, ?, ?, ?, ?)", positions)
        con.executemany("insert into silver.trades values (?, ?, ?, ?, ?)", trades)
        con.execute("create table gold.nav_history (portfolio_id varchar, as_of_date date, nav double)")
        con.executemany("insert into gold.nav_history values (?, ?, ?)",
                        [(f"P-{p:04d}", as_of, 50_000_000.0) for p in range(PORTFOLIOS)])


def trade_event(i: int, rng: random.Random, trade_date: str, now_ms: int) -> tuple[str, bytes, bytes]:
    """(portfolio, key, value) of trade ``i``: a Debezium create priced near the close (1%: > 2% off)."""
    import orjson

    portfolio = f"P-{rng.randrange(PORTFOLIOS):04d}"
    security = rng.randrange(SECURITIES)
    off = rng.uniform(0.025, 0.05) if rng.random() < 0.01 else rng.uniform(-0.01, 0.01)
    image = {"currency": "USD", "portfolio_id": portfolio, "price": round(_close(security) * (1 + off), 6),
             "quantity": float(rng.randrange(1, 500)), "security_id": f"S-{security:05d}", "settle_date": trade_date,
             "side": rng.choice(("BUY", "SELL")), "trade_date": trade_date, "trade_id": f"BT-{i:09d}", "version": 1}
    envelope = {"after": image, "before": None, "op": "c",
                "source": {"connector": "aladdin", "db": "aladdin", "lsn": 10_000 + i, "table": "trades",
                           "ts_ms": now_ms, "txId": i}, "ts_ms": now_ms}
    key = orjson.dumps({"portfolio_id": portfolio, "trade_id": image["trade_id"]})
    return portfolio, key, orjson.dumps(envelope)


def produce(bootstrap: str, topic: str, rate: float | None, count: int, first: int, trade_date: str) -> dict:
    """Send ``count`` trades from index ``first``, paced at ``rate``/s (None: as fast as possible)."""
    from resources.kafka_client import new_producer

    producer = new_producer(bootstrap, acks="all", enable_idempotence=True, linger_ms=0,
                             metrics_enabled=False)
    rng = random.Random(first)
    start = time.perf_counter()
    for n in range(count):
        if rate:
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0.0005:
                time.sleep(delay)
        now_ms = int(time.time() * 1000)
        portfolio, key, value = trade_event(first + n, rng, trade_date, now_ms)
        producer.send(topic, key=key, value=value, partition=zlib.crc32(portfolio.encode()) % PARTITIONS,
                      timestamp_ms=now_ms)
    producer.flush()
    elapsed = time.perf_counter() - start
    producer.close()
    return {"sent": count, "seconds": round(elapsed, 3), "achieved_rate": round(count / elapsed, 1)}


def _produce_entry(args: tuple, out) -> None:
    out.put(produce(*args))


def bare_hop(bootstrap: str, topic: str, rate: float, seconds: float, trade_date: str) -> dict:
    """The baseline: one Kafka hop with no worker, measured the same way on the same broker.

    The benchmark's producer (same settings, same trades) sends to ``topic`` at ``rate``; a consumer with the
    output reader's settings timestamps each record on arrival: latency = arrival - produce timestamp. The
    trade path is two such hops (input topic -> worker -> output topic) plus the worker's own time.
    """
    from kafka import TopicPartition

    from resources.kafka_client import new_consumer

    consumer = new_consumer(bootstrap, group_id=None, enable_auto_commit=False,
                             fetch_max_wait_ms=100, max_poll_records=5_000, metrics_enabled=False)
    parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(parts)
    consumer.seek_to_end()
    for tp in parts:
        consumer.position(tp)
    count = int(rate * seconds)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    sender = ctx.Process(target=_produce_entry, args=((bootstrap, topic, rate, count, 0, trade_date), out))
    sender.start()
    latencies: list[float] = []
    deadline = time.monotonic() + seconds + 60
    try:
        while len(latencies) < count and time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=50)
            arrived = time.time() * 1000
            for records in batches.values():
                latencies += [arrived - record.timestamp for record in records]
    finally:
        sender.join()
        consumer.close()
    return {"rate_per_s": rate, "producer": out.get(), **summarize(latencies)}


class OutputReader:
    """Reads the worker's two output topics from their current end and timestamps every record on arrival."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        from kafka import TopicPartition

        from resources.kafka_client import new_consumer

        self.consumer = new_consumer(bootstrap, group_id=None, enable_auto_commit=False,
                                      fetch_max_wait_ms=100, max_poll_records=5_000, metrics_enabled=False)
        self.topics = {f"{prefix}trades.execution": "execution", f"{prefix}risk.alerts": "alerts"}
        parts = []
        for topic in self.topics:
            deadline = time.monotonic() + 30
            while not (found := self.consumer.partitions_for_topic(topic)):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"output topic {topic} was never created by the worker")
                time.sleep(0.2)
            parts += [TopicPartition(topic, p) for p in found]
        self.consumer.assign(parts)
        self.consumer.seek_to_end()
        for tp in parts:
            self.consumer.position(tp)

    def read(self, first: int, expect_trades: int, timeout_s: float) -> dict:
        """Latencies (ms) per output until the enriched trades ``first`` .. ``first + expect_trades - 1`` arrived
        or ``timeout_s`` passed (outputs of other trades, e.g. a previous phase's tail, are not counted).

        Both latencies run from the input trade's produce timestamp (its Kafka record timestamp, carried as
        ``source_timestamp_ms`` in the enriched trade; an alert is matched to its trade by ``event_id``).
        """
        import orjson

        end = first + expect_trades
        trades: list[float] = []
        in_worker: list[float] = []  # produce timestamp -> the worker's send (the output's CreateTime)
        delivery: list[float] = []  # the worker's send -> returned by poll here
        produced_at: dict[str, int] = {}
        alerts_arrived: list[tuple[str, float]] = []
        first_ms = last_ms = None
        deadline = time.monotonic() + timeout_s
        while len(trades) < expect_trades and time.monotonic() < deadline:
            batches = self.consumer.poll(timeout_ms=50)
            arrived = time.time() * 1000
            for tp, records in batches.items():
                kind = self.topics[tp.topic]
                for record in records:
                    body = orjson.loads(record.value)
                    trade_id = body.get("trade_id") or ""
                    if not trade_id.startswith("BT-") or not first <= int(trade_id[3:]) < end:
                        continue
                    if kind == "execution":
                        trades.append(arrived - body["source_timestamp_ms"])
                        in_worker.append(record.timestamp - body["source_timestamp_ms"])
                        delivery.append(arrived - record.timestamp)
                        produced_at[body["event_id"]] = body["source_timestamp_ms"]
                        first_ms = first_ms or arrived
                        last_ms = arrived
                    else:
                        alerts_arrived.append((body["event_id"], arrived))
        alerts = [arrived - produced_at[e] for e, arrived in alerts_arrived if e in produced_at]
        return {"latencies": {"execution": trades, "alerts": alerts}, "first_ms": first_ms, "last_ms": last_ms,
                "stages": {"produce_to_worker_send": in_worker, "worker_send_to_readable": delivery}}

    def close(self) -> None:
        self.consumer.close()


def summarize(values: list[float]) -> dict:
    """p50 / p99 / p99.9 / max (ms) of ``values``."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"count": len(ordered), "p50_ms": pct(0.50), "p99_ms": pct(0.99), "p99_9_ms": pct(0.999),
            "max_ms": round(ordered[-1], 2), "mean_ms": round(statistics.fmean(ordered), 2)}


class Worker:
    """The real worker as a subprocess, with its health file."""

    def __init__(self, work: Path, bootstrap: str, prefix: str, warehouse: Path, profile: Path | None = None) -> None:
        self.health = work / "health.json"
        self.log = (work / "worker.log").open("ab")
        options = ["--bootstrap", bootstrap, "--topic-prefix", prefix, "--warehouse", str(warehouse),
                   "--health-file", str(self.health), "--log-level", "WARNING"]
        self.args = [sys.executable, "-m", "trade_worker", *options]
        if profile is not None:  # cProfile of the hot (main) thread, one .prof per start
            self.args = [sys.executable, "-c", "import cProfile, os, runpy, sys; sys.argv = ['cli', *sys.argv[1:]]; "
                         f"cProfile.run('runpy.run_module(\"trade_worker\", run_name=\"__main__\")', "
                         f"'{profile}.' + str(os.getpid()))", *options]
        self.env = {**os.environ, "MESH_ENV": "local", "MESH_DATA_DIR": str(work / "data"),  # a single broker:
                    "MESH_KAFKA_REPLICATION_FACTOR": "1", "MESH_KAFKA_MIN_INSYNC_REPLICAS": "1"}
        self.process: subprocess.Popen | None = None
        self.peak_rss_mb = 0.0

    def start(self, timeout_s: float = 120) -> float:
        """Start and wait until ready; return seconds to ready."""
        self.health.unlink(missing_ok=True)
        started = time.monotonic()
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log)
        while time.monotonic() - started < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}; see {self.log.name}")
            try:
                if json.loads(self.health.read_text()).get("ready"):
                    return time.monotonic() - started
            except (FileNotFoundError, json.JSONDecodeError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"worker not ready after {timeout_s} s; see {self.log.name}")

    def sample_rss(self) -> None:
        """Record the worker's peak resident set (VmHWM) so far."""
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_rss_mb = max(self.peak_rss_mb, int(line.split()[1]) / 1024)
        except (OSError, AttributeError):
            pass

    def wait_caught_up(self, produced: int, key: str, timeout_s: float) -> bool:
        """Wait until the health file's ``key`` offsets (consumed or committed) sum to ``produced``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if sum(json.loads(self.health.read_text()).get(key, {}).values()) >= produced:
                    return True
            except (FileNotFoundError, json.JSONDecodeError):
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> int:
        """SIGTERM and wait (graceful: flush, commit, exit 0)."""
        self.sample_rss()
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)


def hot_table_rows(work: Path) -> int:
    """Rows in the worker's hot table (its current snapshot's summary)."""
    from pyiceberg.catalog.sql import SqlCatalog

    data = work / "data" / "lakehouse"
    catalog = SqlCatalog("mesh", uri=f"sqlite:///{data}/catalog.db", warehouse=f"file://{data}/warehouse")
    snapshot = catalog.load_table("stream.trades_enriched").current_snapshot()
    return int(snapshot.summary.additional_properties.get("total-records", 0)) if snapshot else 0


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
            sender = ctx.Process(target=_produce_entry,
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
