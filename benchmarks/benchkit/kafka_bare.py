"""The client's own ceiling: the whole CDC topic read by a bare kafka-python consumer (no group, no parse, no
commit), in this process or in a fresh one."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from benchkit import ROOT
from benchkit.cdc_capture import TOPIC


def bare_consume_fresh(bootstrap: str, partitions: int, **settings) -> dict:
    """:func:`bare_consume` in a new Python process: the ceiling of the client itself. In this process the heap
    left by earlier phases (pyiceberg, the ingest runs) makes the cyclic GC slower for a consumer that builds one
    object per record (~15% by the end of a run), which would understate the ceiling."""
    code = ("import json, sys; sys.path[:0] = json.loads(sys.argv[1]); from benchkit import kafka_bare; "
            "a = json.loads(sys.argv[2]); "
            "print(json.dumps(kafka_bare.bare_consume(a['bootstrap'], a['partitions'], **a['settings'])))")
    paths = json.dumps([str(ROOT), str(ROOT / "benchmarks")])
    args = json.dumps({"bootstrap": bootstrap, "partitions": partitions, "settings": settings})
    done = subprocess.run([sys.executable, "-c", code, paths, args], capture_output=True, text=True, check=True,
                          timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


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
