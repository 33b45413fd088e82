"""The CDC ingest runs of ``benchmarks/cdc_ingest.py``: ``ingest_topic`` batches into a fresh Iceberg warehouse,
the reader helper's start cost, ingest runs interleaved with bare runs, and the profile of a few batches."""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import sys
import time
from pathlib import Path

from benchkit.cdc_capture import TOPIC
from benchkit.kafka_bare import bare_consume_fresh
from benchkit.process_stats import peak_rss_mb, process_cpu_s, process_peak_rss_mb


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
    peak = process_peak_rss_mb(helper.proc.pid)
    return round(peak, 1) if peak is not None else None


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
