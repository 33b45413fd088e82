"""Crash injection for the CDC path: SIGKILL micro-batches at every commit point, then prove nothing was lost.

The harness runs each micro-batch in a forked child process (libraries already imported, so a
batch costs its own work, not an interpreter start) with fault injection on
(:mod:`mesh_assets.lib.lakehouse.fault_injection`): the child
kills itself before writing, after writing data files but before the Iceberg commit, between the
dead-letter and the row commits, or after committing. The parent keeps launching batches until the
requested number of crashes happened and bronze has caught up with Kafka, then compares bronze with
the broker, offset by offset. Used by the CI test (≥ 50 crashes) and the long benchmark.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mesh_assets.lib.cdc import CONTRACTS, TopicPartition
from mesh_assets.lib.lakehouse.fault_injection import ENV, LOG_ENV, POINTS, SEED_ENV

DEFAULT_FAULTS = "before_write=0.15,after_data_files=0.2,between_commits=0.25,after_commit=0.3"


@dataclass
class CrashReport:
    """What a crash-injection run did."""

    batches: int = 0
    crashes: int = 0
    crashes_by_point: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0


def _resources(bootstrap: str, topic_prefix: str, lakehouse: Path):
    from resources.cdc_source import CdcSourceResource
    from resources.iceberg import IcebergCatalogResource

    source = CdcSourceResource(backend="kafka", bootstrap_servers=bootstrap, topic_prefix=topic_prefix)
    iceberg = IcebergCatalogResource(catalog_type="sql", uri=f"sqlite:///{lakehouse / 'catalog.db'}",
                                     warehouse=f"file://{lakehouse / 'warehouse'}")
    return source, iceberg


def pending(bootstrap: str, topic_prefix: str, lakehouse: Path, max_records: int) -> list:
    """The next micro-batch ranges of every topic (empty when bronze has caught up)."""
    from mesh_assets.bronze.aladdin_cdc import committed_for_topic
    from mesh_assets.lib.cdc.microbatch_plan import plan_microbatches

    source, iceberg = _resources(bootstrap, topic_prefix, lakehouse)
    ranges = []
    for topic in sorted(CONTRACTS):
        ends = {TopicPartition(topic, p): end for p, end in source.end_offsets(topic).items()}
        ranges += plan_microbatches(ends, committed_for_topic(iceberg, topic), (), max_records)
    return ranges


def worker(bootstrap: str, topic_prefix: str, lakehouse: Path, max_records: int, batch_id: str) -> int:
    """One micro-batch of the first topic with pending offsets (the child process's work)."""
    from mesh_assets.bronze.aladdin_cdc import ingest_topic

    ranges = pending(bootstrap, topic_prefix, lakehouse, max_records)
    if not ranges:
        return 0
    topic = ranges[0].topic
    source, iceberg = _resources(bootstrap, topic_prefix, lakehouse)
    ingest_topic(topic, [r for r in ranges if r.topic == topic], source, iceberg, batch_id)
    return 0


def _child(bootstrap: str, topic_prefix: str, lakehouse: str, max_records: int, batch_id: str,
           env: dict[str, str]) -> None:
    from resources.iceberg import _load_catalog

    _load_catalog.cache_clear()  # never reuse the parent's SQLite connections after fork
    os.environ.update(env)
    worker(bootstrap, topic_prefix, Path(lakehouse), max_records, batch_id)


def run(
    bootstrap: str, topic_prefix: str, lakehouse: Path, *, min_crashes: int, max_records: int = 10,
    faults: str = DEFAULT_FAULTS, max_batches: int = 2000, seed: int = 1,
) -> CrashReport:
    """Launch killed and clean micro-batches until ``min_crashes`` crashes happened and bronze caught up."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    report = CrashReport()
    log = lakehouse / "crashes.log"
    lakehouse.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    while report.batches < max_batches:
        inject = report.crashes < min_crashes
        if not inject and not pending(bootstrap, topic_prefix, lakehouse, max_records):
            break
        env = {LOG_ENV: str(log), SEED_ENV: f"{seed}-{report.batches}", ENV: faults if inject else ""}
        child = context.Process(target=_child, args=(bootstrap, topic_prefix, str(lakehouse), max_records,
                                                      f"crash-test-{report.batches}", env))
        child.start()
        child.join(timeout=300)
        report.batches += 1
        if child.exitcode == -9:
            report.crashes += 1
        elif child.exitcode != 0:
            raise RuntimeError(f"micro-batch {report.batches} failed without an injected crash (exit {child.exitcode})")
        elif inject and not pending(bootstrap, topic_prefix, lakehouse, max_records):
            break  # caught up before enough crashes: nothing left to kill
    report.crashes_by_point = dict(Counter(log.read_text().split())) if log.exists() else {}
    report.wall_s = round(time.perf_counter() - started, 1)
    unknown = set(report.crashes_by_point) - set(POINTS)
    if unknown:
        raise RuntimeError(f"unknown crash points logged: {unknown}")
    return report
