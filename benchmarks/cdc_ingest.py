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
import cProfile
import io
import json
import os
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from mesh_dev.local import cdc_producer, kafka_broker  # noqa: E402

TOPIC = "aladdin.trades"

#: What changed in the measured path since the first figures (issue 9); the work measured is the same:
#: same events, read by offset range + parse + validate + both Iceberg commits inside ``ingest_topic``.
CHANGES = [
    "parse: ColumnarParser (mesh_assets/lib/cdc/columnar.py) parses ~16K-record units as one JSON-lines buffer with "
    "pyarrow.json and validates with pyarrow.compute; records it cannot prove identical go through the unchanged "
    "per-record parse_batch (same rows, same dead letters and reasons)",
    "read: resources.kafka.read_chunks reads in a background thread and hands columnar chunks (no SourceRecord per "
    "record) to the parser while it parses; max_poll_records 1000, partition fetches <= 2 MiB (was 20000 / 16 MiB), "
    "check_crcs still on; no beginning_offsets round trip (retention loss is detected from OffsetOutOfRange and "
    "reported with the same message)",
    "commit: unchanged (dead letters first, then rows, each with its positions in one Iceberg transaction)",
    # second round (issue 9 open goal): fixed costs and the GIL
    "read: reads of >= 20K records (resources.kafka.PROCESS_MIN_RECORDS) go to a helper PROCESS "
    "(resources/kafka_reader_process.py: one per process, started once, kafka imported once; same iter_chunks, "
    "same records and error messages) that streams pickled chunk frames through a pipe, so kafka-python's decoding "
    "(one core) overlaps parse + commit (the other core) instead of sharing the GIL; still ONE kafka-python "
    "consumer, like the bare ceiling. The benchmark starts the helper before the clock (like the tables) and "
    "reports its start cost (helper_start) separately; smaller reads keep the background thread",
    "read: consumer start ~0.2 s -> ~0.05 s: metadata of the ranges' topics is fetched before the first poll "
    "(that poll used to spend its timeout waiting for leaders) and retry_backoff_ms is 20 (was kafka-python's 100: "
    "the topic metadata request waited 100 ms behind the bootstrap's)",
    "parse: pyarrow.json schema declares Debezium's other source fields (connector, db, ts_ms): inferring "
    "undeclared fields cost ~20% of the JSON parse",
    "commit: pyiceberg rebuilt and deep-copied the pending table metadata on each of ~17 reads per append "
    "(cost grows with snapshot history: ~0.25 s CPU per commit at 200 snapshots); "
    "mesh_assets/lib/lakehouse/transactions.py memoizes it per (base metadata, staged updates); same commit",
    "commit: one catalog load per commit attempt (tables.table_loader) instead of namespace check + existence "
    "check (a load) + load + load",
    "parse: units of 8K records (were 16K): same CPU or less (cache), half the parse left after the last chunk",
    "unchanged: both commits still happen (dead letters first, even when empty), positions in the same commits",
    # third round
    "commit: each parsed unit is written to a staged Parquet data file while the batch is still read "
    "(mesh_assets/lib/lakehouse/staged_file.py, mesh_assets/bronze/staged_rows.py); the rows commit only adds the "
    "finished file (~0.03 s instead of ~0.27 s after the last record of a 100K batch); a partly committed range "
    "or an evolved schema falls back to the plain append",
    "read: the helper keeps its consumer between reads (resources.kafka_range_read.ConsumerPool): no new connection, "
    "handshake and metadata per batch; it sends its first chunk at once",
    "parse: rows are no longer sorted before the append (a table has no row order): ~50 ms a 100K batch",
    # fourth round
    "commit: the staged Parquet file dictionary-encodes only the columns that repeat (decided on its first rows); "
    "pyarrow's default tried every column (trade ids, keys, offsets too): write ~1.3 -> ~0.9 us a row, bronze "
    "files ~27% smaller",
    "read: a read's first fetch is capped at 256 KiB per partition (resources.kafka_range_read.FIRST_FETCH_BYTES), "
    "then fetches grow to the read's size: the first records of a 100K batch arrive after ~15 ms instead of ~55 ms",
    "benchmark: every bare run in a fresh Python process (the benchmark's own heap slowed its later bare runs), "
    "bare runs right before and after each batch size, the ceiling is the best bare run of the whole benchmark; "
    "CPU per event of the ingesting process and of the reader helper",
    # fifth round
    "parse: units start at 1,024 records and double up to 8K (mesh_assets.lib.cdc.columnar.FIRST_UNIT_RECORDS), and "
    "the helper's frames grow from 250 records: the parser starts ~45 ms into a 100K read instead of ~140 ms "
    "(it waited for a full unit with nothing else to do)",
    "read: the first fetch of a read is 1 MiB per partition (was 256 KiB): a partition whose next producer batch "
    "is larger than the limit returns nothing except the first one of the response (KIP-74), so with the "
    "benchmark's 512 KiB batches the first fetch brought one partition only",
    "ingest: Python's cyclic garbage collector is paused during a batch (mesh_assets/bronze/collector_pause.py): "
    "full collections walk the whole Dagster + pyiceberg heap (~100 ms each, a few per 300K events)",
    "commit: after its first piece the staged file reuses its projected Arrow schema (field ids) instead of "
    "running pyiceberg's projection per piece; finish() no longer copies an unordered batch into one chunk",
    "benchmark: --rounds more ingest runs at the best batch size, interleaved with bare runs; the ratio is "
    "reported against the best bare run (strict) and against the bare runs around each ingest run (median)",
    "parse (issue 19): quantities and prices are read by pyarrow.json as exact decimal128 (no double), version "
    "as int64, the event time in microseconds from ts_us/ts_ns/ts_ms; a decimal beyond its precision, an "
    "event time out of range, a wrapped JsonConverter record, op t/m go per record; a batch with skips "
    "(tombstones, messages) commits them to bronze.aladdin_cdc_skips first (none in this benchmark's data)",
]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def synthesize_capture(path: Path, events: int, partitions: int, seed: int = 7) -> dict:
    """Write ``events`` valid trade CDC events as a capture file; return counts and the mean value size."""
    rng = random.Random(seed)
    offsets = [0] * partitions
    now_ms = int(time.time() * 1000) - events  # recent: one event per millisecond up to now
    lsn = 2_400_000_000
    value_bytes = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for i in range(events):
            portfolio = f"P-{rng.randrange(1000):04d}"
            trade_id = f"T-{i + 1:08d}"
            partition = zlib.crc32(portfolio.encode()) % partitions
            ts = now_ms + i
            lsn += rng.randrange(8, 400)
            trade_date = f"2026-{rng.randrange(1, 11):02d}-{rng.randrange(1, 28):02d}"
            image = {
                "currency": rng.choice(("USD", "USD", "USD", "EUR", "GBP")),
                "portfolio_id": portfolio,
                "price": round(rng.uniform(5, 900), 6),
                "quantity": rng.randrange(1, 250_000),
                "security_id": f"S-{rng.randrange(3000):05d}",
                "settle_date": trade_date,
                "side": rng.choice(("BUY", "SELL")),
                "trade_date": trade_date,
                "trade_id": trade_id,
                "version": 1,
            }
            envelope = {
                "after": image,
                "before": None,
                "op": "c",
                "source": {"connector": "aladdin", "db": "aladdin", "lsn": lsn, "table": "trades",
                           "ts_ms": ts - rng.randrange(1, 250), "txId": 88_000 + i},
                "ts_ms": ts,
            }  # fmt: skip
            value = orjson.dumps(envelope, option=orjson.OPT_SORT_KEYS).decode()
            value_bytes += len(value)
            key = orjson.dumps({"portfolio_id": portfolio, "trade_id": trade_id}, option=orjson.OPT_SORT_KEYS)
            line = {
                "key": key.decode(),
                "offset": offsets[partition],
                "partition": partition,
                "timestamp_ms": ts,
                "topic": TOPIC,
                "value": value,
            }  # fmt: skip
            offsets[partition] += 1
            handle.write(orjson.dumps(line, option=orjson.OPT_SORT_KEYS) + b"\n")
    return {"events": events, "per_partition": offsets, "mean_value_bytes": round(value_bytes / max(events, 1), 1)}


def bare_consume_fresh(bootstrap: str, partitions: int, **settings) -> dict:
    """:func:`bare_consume` in a new Python process: the ceiling of the client itself. In this process the heap
    left by earlier phases (pyiceberg, the ingest runs) makes the cyclic GC slower for a consumer that builds one
    object per record (~15% by the end of a run), which would understate the ceiling."""
    code = ("import json, sys; sys.path[:0] = json.loads(sys.argv[1]); import cdc_ingest; a = json.loads(sys.argv[2]); "
            "print(json.dumps(cdc_ingest.bare_consume(a['bootstrap'], a['partitions'], **a['settings'])))")
    paths = json.dumps([str(ROOT), str(Path(__file__).resolve().parent)])
    args = json.dumps({"bootstrap": bootstrap, "partitions": partitions, "settings": settings})
    done = subprocess.run([sys.executable, "-c", code, paths, args], capture_output=True, text=True, check=True,
                          timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


def process_cpu_s(pid: int | None = None) -> float:
    """User + system CPU seconds of this process (all its threads) or of process ``pid``."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare_consume(bootstrap: str, partitions: int, **settings) -> dict:
    """Read the whole topic with a bare KafkaConsumer (no group): records, seconds, records/s."""
    from kafka import TopicPartition

    from resources.kafka_client import new_consumer

    consumer = new_consumer(bootstrap, group_id=None, enable_auto_commit=False, **settings)
    try:
        tps = [TopicPartition(TOPIC, p) for p in range(partitions)]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        consumer.seek_to_beginning(*tps)
        for tp in tps:
            consumer.position(tp)  # resolve the beginning before the clock starts
        count = 0
        nbytes = 0
        remaining = {tp for tp in tps if ends[tp] > 0}
        started = time.perf_counter()
        while remaining:
            for tp, records in consumer.poll(timeout_ms=500).items():
                count += len(records)
                for record in records:
                    nbytes += len(record.value or b"")
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
                    consumer.pause(tp)
        elapsed = time.perf_counter() - started
    finally:
        consumer.close()
    return {
        "settings": {k: v for k, v in settings.items()},
        "records": count,
        "seconds": round(elapsed, 3),
        "records_per_s": round(count / elapsed, 1),
        "mb_per_s": round(nbytes / elapsed / 1e6, 2),
    }


def helper_start(bootstrap: str) -> dict:
    """Start the reader helper process before the clock and measure what its start costs.

    ``cold_read_s``: a one-record read through a new helper (process start, kafka import, consumer);
    ``warm_read_s``: the same read through the running helper (consumer start only). A process that
    ingests once pays about the difference once; the ingest runs below reuse the running helper.
    """
    from mesh_assets.lib.cdc import OffsetRange
    from resources import kafka, kafka_reader_process

    kafka_reader_process.shutdown()
    timings = {}
    for label in ("cold_read_s", "warm_read_s"):
        t0 = time.perf_counter()
        records = sum(len(c) for c in kafka.read_chunks(bootstrap, [OffsetRange(TOPIC, 0, 0, 1)], process=True))
        timings[label] = round(time.perf_counter() - t0, 3)
        assert records == 1
    timings["start_cost_s"] = round(timings["cold_read_s"] - timings["warm_read_s"], 3)
    return timings


def helper_peak_rss_mb() -> float | None:
    """Peak resident set size of the running reader helper process, MiB (None if none runs)."""
    from resources import kafka_reader_process

    helper = kafka_reader_process._helper
    if helper is None or not helper.alive():
        return None
    for line in Path(f"/proc/{helper.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def batch_ranges(next_offsets: dict[int, int], ends: dict[int, int], per_partition: int):
    """The next batch: up to ``per_partition`` offsets of every partition that has some left."""
    from mesh_assets.lib.cdc import OffsetRange

    ranges = []
    for partition in sorted(ends):
        start = next_offsets.get(partition, 0)
        stop = min(ends[partition], start + per_partition)
        if stop > start:
            ranges.append(OffsetRange(TOPIC, partition, start, stop))
    return ranges


def ingest_run(
    bootstrap: str, work: Path, batch_size: int, budget_s: float, profile: bool = False, tag: str | None = None
) -> dict:
    """Sequential ``ingest_topic`` batches of about ``batch_size`` records into a fresh warehouse."""
    from mesh_assets.bronze.aladdin_cdc import ingest_topic
    from mesh_assets.lib.lakehouse import tables
    from resources.cdc_source import CdcSourceResource
    from resources.iceberg import IcebergCatalogResource

    tag = tag or (f"{batch_size}-profile" if profile else str(batch_size))
    folder = work / f"iceberg-{tag}"  # a fresh catalog each run (catalogs are cached per uri)
    folder.mkdir(parents=True)
    source = CdcSourceResource(backend="kafka", bootstrap_servers=bootstrap)
    iceberg = IcebergCatalogResource(
        catalog_type="sql", name=f"bench-{tag}", uri=f"sqlite:///{folder}/catalog.db",
        warehouse=f"file://{folder}/warehouse",
    )  # fmt: skip
    for spec in (tables.CDC_TABLES[TOPIC], tables.DEAD_LETTERS):
        iceberg.table(spec)  # create the tables before the clock starts
    ends = source.end_offsets(TOPIC)
    per_partition = max(1, batch_size // len(ends))
    next_offsets = dict.fromkeys(ends, 0)
    latencies: list[float] = []
    rows = dead = tombstones = consumed = 0
    profiler = cProfile.Profile() if profile else None
    from resources import kafka_reader_process

    helper = kafka_reader_process._helper
    helper_pid = helper.proc.pid if helper is not None and helper.alive() else None
    cpu0 = process_cpu_s()
    helper_cpu0 = process_cpu_s(helper_pid) if helper_pid else 0.0
    started = time.perf_counter()
    while True:
        ranges = batch_ranges(next_offsets, ends, per_partition)
        if not ranges or (time.perf_counter() - started) > budget_s:
            break
        t0 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        data_outcome, dead_outcome, batch = ingest_topic(TOPIC, ranges, source, iceberg, f"bench-{len(latencies)}")
        if profiler is not None:
            profiler.disable()
        latencies.append(time.perf_counter() - t0)
        rows += data_outcome.rows_written
        dead += dead_outcome.rows_written
        tombstones += batch.tombstones
        for r in ranges:
            next_offsets[r.partition] = r.end
            consumed += len(r)
        if profile and len(latencies) >= 3:
            break
    wall = time.perf_counter() - started
    busy = sum(latencies)
    main_cpu = process_cpu_s() - cpu0
    helper_now = kafka_reader_process._helper
    same_helper = helper_pid is not None and helper_now is not None and helper_now.proc.pid == helper_pid
    helper_cpu = process_cpu_s(helper_pid) - helper_cpu0 if same_helper and helper_now.alive() else None
    from resources import kafka as kafka_reader
    table_rows = iceberg.table(tables.CDC_TABLES[TOPIC]).scan(selected_fields=("source_offset",)).to_arrow().num_rows
    result = {
        "batch_size": batch_size,
        "records_per_partition_per_batch": per_partition,
        "batches": len(latencies),
        "events": consumed,
        "rows_written": rows,
        "dead_letters": dead,
        "tombstones": tombstones,
        "table_rows": table_rows,
        "complete": consumed == sum(ends.values()),
        "wall_s": round(wall, 3),
        "events_per_s": round(consumed / busy, 1) if busy else None,
        "latency_p50_s": round(statistics.median(latencies), 4) if latencies else None,
        "latency_p99_s": round(_percentile(latencies, 99), 4) if latencies else None,
        "latency_max_s": round(max(latencies), 4) if latencies else None,
        "reader": "helper process" if per_partition * len(ends) >= kafka_reader.PROCESS_MIN_RECORDS else "thread",
        # CPU per event: this process (parse, validate, staged Parquet, commits; all its threads) and the reader
        # helper (kafka-python fetch and decode, pickling): where the two cores go
        "cpu_us_per_event": {"ingest_process": round(main_cpu * 1e6 / consumed, 2) if consumed else None,
                             "reader_helper": round(helper_cpu * 1e6 / consumed, 2) if consumed and helper_cpu
                             is not None else None},
        "peak_rss_mb_after": peak_rss_mb(),
    }
    if profiler is not None:
        result["profile"] = _profile_summary(profiler, busy)
    return result


def interleaved_rounds(
    bootstrap: str, work: Path, partitions: int, batch_size: int, variant: dict, rounds: int, budget_s: float,
    first_bare: float | None = None,
) -> dict:
    """``rounds`` more ingest runs at ``batch_size``, each between two bare runs of ``variant`` (bare, ingest,
    bare, ingest, ..., bare; each bare run is shared by its two neighbours), and each ingest's ratio to the mean
    of the bare runs around it: the client and the ingest compared at the same moments of a machine whose speed
    drifts. ``first_bare``: the bare run just made, used as the first one."""
    bare_runs = []
    if first_bare is None:
        bare_runs.append(bare_consume_fresh(bootstrap, partitions, **variant))
        first_bare = bare_runs[-1]["records_per_s"]
    bares = [first_bare]
    ingests = []
    ratios = []
    for k in range(rounds):
        run = ingest_run(bootstrap, work, batch_size, budget_s, tag=f"{batch_size}-round{k}")
        bare_runs.append(bare_consume_fresh(bootstrap, partitions, **variant))
        bares.append(bare_runs[-1]["records_per_s"])
        ingests.append(run["events_per_s"])
        ratios.append(round(run["events_per_s"] / ((bares[-2] + bares[-1]) / 2), 3))
        print(f"round {k}: {run['events_per_s']} events/s (bare around it: {bares[-2]}, {bares[-1]})", file=sys.stderr)
    return {
        "batch_size": batch_size,
        "bare_records_per_s": bares,
        "ingest_events_per_s": ingests,
        "ratios": ratios,
        "median_ratio": statistics.median(ratios) if ratios else None,
        "bare_runs": bare_runs,
    }


def _profile_summary(profiler: cProfile.Profile, busy_s: float, top: int = 25) -> dict:
    stats = pstats.Stats(profiler)
    # cProfile sees the calling thread only: Kafka is read by a background thread or the helper process
    # (resources.kafka.read_chunks), so "read wait" is the time the ingest waited for records it had not parsed
    # yet (the read not overlapped), plus unpickling the helper's frames.
    buckets = {
        "read wait (resources.kafka.read_chunks)": ("resources/kafka.py", ("read_chunks", "read_ranges")),
        "parse (ColumnarParser.add/finish; per-record parse_batch inside)": (
            "mesh_assets/lib/cdc/columnar.py", ("add", "finish")),
        "rows_table (arrow build)": ("mesh_assets/bronze/aladdin_cdc.py", ("columnar_rows_table", "rows_table")),
        "append_exactly_once (iceberg commits)": (
            "mesh_assets/lib/lakehouse/exactly_once.py", ("append_exactly_once",)),
    }  # fmt: skip
    split = {}
    for label, (file_end, funcs) in buckets.items():
        split[label] = round(
            sum(v[3] for (f, _, name), v in stats.stats.items() if f.endswith(file_end) and name in funcs), 3
        )  # cumulative time
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(top)
    return {"profiled_s": round(busy_s, 3), "cumulative_s": split, "top_by_self_time": stream.getvalue()}


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
