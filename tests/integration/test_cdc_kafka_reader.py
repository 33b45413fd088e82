"""Range reads from a real Kafka broker: the chunk readers (thread, helper process) and the record reader agree."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from mesh_assets.lib.cdc import OffsetRange
from resources import kafka, kafka_range_read, kafka_reader_process

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(kafka_broker):
    """A fresh 3-partition topic with 300 records per partition (values name partition and offset)."""
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    name = f"reader.{uuid.uuid4().hex[:8]}"
    bootstrap = kafka_broker.bootstrap_servers
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, 3, 1)])
        for partition in range(3):
            for offset in range(300):
                value = None if offset % 50 == 49 else f'{{"p":{partition},"o":{offset}}}'.encode()
                producer.send(name, key=f"k{offset}".encode(), value=value, partition=partition)
        producer.flush()
        yield {"bootstrap": bootstrap, "name": name, "admin": admin}
    finally:
        producer.close()
        admin.close()


def _gone(pid: int) -> bool:
    """The process has exited (reaped, or a zombie waiting for a parent that does not reap)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] in {"Z", "X"}
    except (FileNotFoundError, ProcessLookupError):
        return True


@pytest.mark.parametrize("process", [False, True], ids=["thread", "helper-process"])
def test_chunks_hold_exactly_the_records_of_the_ranges(topic, process):
    ranges = [OffsetRange(topic["name"], 0, 10, 290), OffsetRange(topic["name"], 2, 0, 300),
              OffsetRange(topic["name"], 1, 5, 5)]  # fmt: skip
    chunks = list(kafka.read_chunks(topic["bootstrap"], ranges, process=process))
    from_chunks = sorted(
        (c.partition, c.offsets[i], c.keys[i], c.values[i], c.timestamps_ms[i]) for c in chunks for i in range(len(c))
    )
    from_records = [(r.partition, r.offset, r.key, r.value, r.timestamp_ms)
                    for r in kafka.read_ranges(topic["bootstrap"], ranges)]  # fmt: skip
    assert from_chunks == from_records
    assert [(p, o) for p, o, *_ in from_records] == [(0, o) for o in range(10, 290)] + [(2, o) for o in range(300)]
    for chunk in chunks:
        assert chunk.offsets == sorted(chunk.offsets)


def test_a_range_lost_to_retention_is_refused_naming_it(topic):
    from kafka import TopicPartition

    topic["admin"].delete_records({TopicPartition(topic["name"], 1): 100})
    lost = OffsetRange(topic["name"], 1, 20, 150)
    expected = re.escape(f"{lost.label()}: offsets 20..99 are no longer on the broker (log starts at 100)")
    with pytest.raises(kafka.KafkaRangeError, match=expected):
        kafka.read_ranges(topic["bootstrap"], [lost])
    for process in (False, True):
        with pytest.raises(kafka.KafkaRangeError, match=expected):
            list(kafka.read_chunks(topic["bootstrap"], [OffsetRange(topic["name"], 0, 0, 10), lost], process=process))
    assert [r.offset for r in kafka.read_ranges(topic["bootstrap"], [OffsetRange(topic["name"], 1, 100, 103)])] == [
        100,
        101,
        102,
    ]


def test_closing_the_chunk_iterator_early_stops_the_background_reader(topic):
    chunks = kafka.read_chunks(topic["bootstrap"], [OffsetRange(topic["name"], p, 0, 300) for p in range(3)],
                               prefetch_chunks=1)  # fmt: skip
    first = next(chunks)
    assert len(first) > 0
    chunks.close()
    assert not [t for t in threading.enumerate() if t.name == "mesh-cdc-reader"]


def test_a_range_past_the_log_end_times_out_naming_its_position_in_both_readers(topic):
    beyond = OffsetRange(topic["name"], 0, 295, 305)
    expected = re.escape(f"timed out after 1s reading ranges; positions reached: {{'{beyond.label()}': 300}}")
    for process in (False, True):
        with pytest.raises(kafka.KafkaRangeError, match=expected):
            list(kafka.read_chunks(topic["bootstrap"], [beyond], timeout_s=1, process=process))


def test_the_helper_process_is_reused_and_a_second_reader_meanwhile_uses_a_thread(topic):
    ranges = [OffsetRange(topic["name"], p, 0, 300) for p in range(3)]
    expected = sorted((r.partition, r.offset) for r in kafka.read_ranges(topic["bootstrap"], ranges))
    first = kafka.read_chunks(topic["bootstrap"], ranges, process=True)
    got_first = [(c.partition, o) for c in [next(first)] for o in c.offsets]
    helper = kafka_reader_process._helper
    assert helper is not None and helper.alive()
    # the helper is busy with the first read: a second read goes to a thread and still gets every record
    second = [(c.partition, o) for c in kafka.read_chunks(topic["bootstrap"], ranges, process=True) for o in c.offsets]
    got_first += [(c.partition, o) for c in first for o in c.offsets]
    assert sorted(got_first) == expected and sorted(second) == expected
    third = [(c.partition, o) for c in kafka.read_chunks(topic["bootstrap"], ranges, process=True) for o in c.offsets]
    assert sorted(third) == expected
    assert kafka_reader_process._helper is helper and helper.alive(), "the helper was not reused"


def test_closing_a_helper_read_early_kills_the_helper(topic):
    chunks = kafka.read_chunks(topic["bootstrap"], [OffsetRange(topic["name"], p, 0, 300) for p in range(3)],
                               prefetch_chunks=1, process=True)  # fmt: skip
    assert len(next(chunks)) > 0
    pid = kafka_reader_process._helper.proc.pid
    chunks.close()
    assert _gone(pid)
    assert kafka_reader_process._helper is None
    again = list(kafka.read_chunks(topic["bootstrap"], [OffsetRange(topic["name"], 0, 0, 300)], process=True))
    assert sum(len(c) for c in again) == 300 and kafka_reader_process._helper.proc.pid != pid


def test_the_helper_process_exits_when_its_parent_is_killed_even_if_a_forked_child_lives_on(topic):
    script = (
        "import os, sys, time\n"
        "from mesh_assets.lib.cdc import OffsetRange\n"
        "from resources import kafka, kafka_reader_process\n"
        f"chunks = kafka.read_chunks({topic['bootstrap']!r}, [OffsetRange({topic['name']!r}, 0, 0, 300)],\n"
        "                            prefetch_chunks=1, process=True)\n"
        "next(chunks)\n"
        "helper = kafka_reader_process._helper.proc.pid\n"
        "child = os.fork()\n"
        "if child == 0:  # a forked child (like the crash harness's) neither sees nor holds the helper\n"
        "    print('child-sees-helper', kafka_reader_process._helper is not None, flush=True)\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "time.sleep(0.5)\n"
        "print(helper, child, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    child_pid = None
    try:
        assert parent.stdout.readline().split() == ["child-sees-helper", "False"]
        helper_pid, child_pid = (int(x) for x in parent.stdout.readline().split())
        assert not _gone(helper_pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 20
        while not _gone(helper_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(helper_pid), f"helper {helper_pid} outlived its killed parent"
    finally:
        if parent.poll() is None:
            os.kill(parent.pid, signal.SIGKILL)
        if child_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child_pid, signal.SIGKILL)


def test_a_pooled_consumer_reads_consecutive_ranges_of_the_same_partitions_exactly(topic):
    """The helper keeps its consumer between reads. kafka-python parks what it fetched beyond a finished
    (paused) range and would never fetch that partition again: the next range must still arrive whole."""
    pool = kafka_range_read.ConsumerPool()
    name = topic["name"]
    try:
        consumers = []
        for start in range(0, 300, 60):
            ranges = [OffsetRange(name, p, start, start + 60) for p in range(3)]
            chunks = list(kafka_range_read.iter_chunks(topic["bootstrap"], ranges, "", 20.0, consumers=pool))
            got = sorted((c.partition, o) for c in chunks for o in c.offsets)
            assert got == [(p, o) for p in range(3) for o in range(start, start + 60)]
            consumers.append(next(iter(pool._idle.values())))
        assert len({id(c) for c in consumers}) == 1  # one consumer served all five reads
    finally:
        pool.close()


def test_a_large_read_starts_with_a_small_fetch_and_then_reads_the_rest_at_full_size(topic, monkeypatch):
    """The first fetch of a read is capped (the first records come sooner); every record still arrives once,
    and the pooled consumer keeps its full fetch size for the next read."""
    pool = kafka_range_read.ConsumerPool()
    name = topic["name"]
    monkeypatch.setattr(kafka_range_read, "PARTITION_FETCH_BYTES", 64 * 1024)
    monkeypatch.setattr(kafka_range_read, "RECORD_BYTES_ESTIMATE", 1024)  # 300 records -> a 64 KiB fetch size
    monkeypatch.setattr(kafka_range_read, "FIRST_FETCH_BYTES", 100)  # < one record batch: still one whole batch
    sizes: list[int] = []
    original = kafka_range_read._small_first_fetch

    def recording(consumer, first_bytes):
        restore = original(consumer, first_bytes)
        sizes.append(consumer._fetcher.config["max_partition_fetch_bytes"])
        return restore

    monkeypatch.setattr(kafka_range_read, "_small_first_fetch", recording)
    try:
        for _ in range(2):
            ranges = [OffsetRange(name, p, 0, 300) for p in range(3)]
            chunks = list(kafka_range_read.iter_chunks(topic["bootstrap"], ranges, "", 20.0, consumers=pool))
            got = [(c.partition, o) for c in chunks for o in c.offsets]
            assert sorted(got) == [(p, o) for p in range(3) for o in range(300)] and len(got) == len(set(got))
            (consumer,) = pool._idle.values()
            assert consumer._fetcher.config["max_partition_fetch_bytes"] == 64 * 1024
        assert sizes == [100, 100]  # each read began with the capped fetch
    finally:
        pool.close()
