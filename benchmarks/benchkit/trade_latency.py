"""Latency as the trade path benchmark reads it: records timestamped on arrival against their produce
timestamp, for one bare Kafka hop (the baseline) and for the worker's two output topics."""

from __future__ import annotations

import multiprocessing
import statistics
import time

from benchkit.trade_events import PARTITIONS, produce_entry


def summarize(values: list[float]) -> dict:
    """p50 / p99 / p99.9 / max (ms) of ``values``."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"count": len(ordered), "p50_ms": pct(0.50), "p99_ms": pct(0.99), "p99_9_ms": pct(0.999),
            "max_ms": round(ordered[-1], 2), "mean_ms": round(statistics.fmean(ordered), 2)}


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
    sender = ctx.Process(target=produce_entry, args=((bootstrap, topic, rate, count, 0, trade_date), out))
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

