"""The stream's Kafka outputs: ``trades.execution`` and ``risk.alerts``, keyed by portfolio, delivered per batch.

The hot thread only *sends* (asynchronous, linger 1 ms: a consumer reads the output within milliseconds);
the commit writer *delivers* a batch before committing it: it re-sends what failed or was never sent, flushes
the producer and checks every send's outcome. A delivery that fails raises :class:`DeliveryError`, which the
``producer`` breaker counts. The producer is idempotent (``enable_idempotence``, ``acks='all'``): a broker
retry never duplicates a record, and a replay after a crash carries the same event and alert ids.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

import orjson

from trade_worker.alerts import Alert, alert_message
from trade_worker.micro_batch import MicroBatch, OutboundMessage

log = logging.getLogger(__name__)

EXECUTION_TOPIC = "trades.execution"
ALERTS_TOPIC = "risk.alerts"

#: Producer settings: idempotent, acks from all in-sync replicas, a 1 ms linger (latency over batching).
PRODUCER_CONFIG: dict[str, Any] = {
    "enable_idempotence": True,
    "acks": "all",
    "linger_ms": 1,
    "batch_size": 256 * 1024,
    "max_in_flight_requests_per_connection": 5,
    "allow_auto_create_topics": False,
    "max_block_ms": 1_000,  # a send waits at most this for metadata or buffer space (then: re-sent by the writer)
    "request_timeout_ms": 10_000,
    "delivery_timeout_ms": 30_000,
    "metrics_enabled": False,
    "reconnect_backoff_max_ms": 1_000,  # back within a second of a broker restart (default backs off to 30 s)
}


class DeliveryError(RuntimeError):
    """Some outputs of a batch were not acknowledged by the broker."""


def _portfolio_partitioner():
    """Kafka's default key partitioner (murmur2 of the key), remembered per topic and key: the keys are the
    portfolio ids, a small set, and the pure-Python murmur2 per record costs more than the rest of a send."""
    from kafka.partitioner.default import DefaultPartitioner

    class PortfolioPartitioner(DefaultPartitioner):
        def __init__(self) -> None:
            self._known: dict[tuple[str, bytes, int], int] = {}

        def partition(self, topic, key, serialized_key, value, serialized_value, cluster):
            if serialized_key is None:
                return super().partition(topic, key, serialized_key, value, serialized_value, cluster)
            partitions = cluster.partitions_for_topic(topic)
            count = len(partitions) if partitions else 0
            found = self._known.get((topic, serialized_key, count))
            if found is None:
                found = super().partition(topic, key, serialized_key, value, serialized_value, cluster)
                self._known[(topic, serialized_key, count)] = found
            return found

    return PortfolioPartitioner()


def new_producer(bootstrap_servers: str, client_id: str):
    """An idempotent KafkaProducer for the stream's outputs (security from :mod:`resources.kafka_client`)."""
    from resources.kafka_client import new_producer as new_kafka_producer

    return new_kafka_producer(bootstrap_servers, client_id=client_id, partitioner=_portfolio_partitioner(),
                              **PRODUCER_CONFIG)


class OutputPublisher:
    """Sends a batch's outputs as they are produced, and delivers them before the batch commits."""

    def __init__(self, producer: Any, topic_prefix: str = "") -> None:
        self.producer = producer
        self.execution_topic = f"{topic_prefix}{EXECUTION_TOPIC}"
        self.alerts_topic = f"{topic_prefix}{ALERTS_TOPIC}"
        self.sent = 0
        self.send_errors = 0
        #: set when a send failed: later sends are left to the commit writer until a batch is delivered again, so
        #: the hot thread waits on a failing producer once per episode, not once per record
        self.degraded = False
        self._holding: int | None = None  # the thread whose sends' sender wake-ups are held
        self._wakeup_due = False
        self._wakeup = self._defer_send_wakeups()

    def _defer_send_wakeups(self):
        """Make the sends of a held thread wake the producer's sender thread once per poll, not once per new batch.

        kafka-python's ``send`` wakes its sender (a syscall, and a GIL hand-off to the I/O threads) every time it
        opens a new record batch, which with a 1 ms linger is nearly every record. Between :meth:`hold_wakeups`
        and :meth:`release_wakeups` those wake-ups (only the ones made directly by ``send`` in the holding thread)
        are remembered and done once at the release; every other wake-up (flush, metadata waits, other threads)
        goes through at once. Returns the producer's own ``wakeup`` (``None`` if the producer has none).
        """
        sender = getattr(self.producer, "_sender", None)
        real = getattr(sender, "wakeup", None)
        if real is None:
            return None
        get_frame, get_ident = sys._getframe, threading.get_ident

        def wakeup() -> None:
            if self._holding is not None and self._holding == get_ident() and get_frame(1).f_code.co_name == "send":
                self._wakeup_due = True
            else:
                real()

        sender.wakeup = wakeup
        return real

    def hold_wakeups(self) -> None:
        """Start holding the calling thread's send wake-ups (see :meth:`_defer_send_wakeups`)."""
        if self._wakeup is not None:
            self._holding = threading.get_ident()

    def release_wakeups(self) -> None:
        """Stop holding; wake the sender once if a held send opened a batch."""
        self._holding = None
        if self._wakeup_due:
            self._wakeup_due = False
            self._wakeup()

    def _send(self, batch: MicroBatch, topic: str, key: bytes | None, value: bytes, event_id: str) -> None:
        message = OutboundMessage(topic, key, value, [("event_id", event_id.encode())])
        batch.messages.append(message)
        if self.degraded:
            return
        try:
            message.future = self.producer.send(topic, value=value, key=key, headers=message.headers)
            self.sent += 1
        except Exception as exc:  # buffer full or no metadata: delivered (re-sent) by the commit writer
            self.send_errors += 1
            self.degraded = True
            log.warning("send to %s failed (%s: %s); outputs are left to the commit writer until it delivers again",
                        topic, type(exc).__name__, exc)

    def publish_trade(self, batch: MicroBatch, row: dict[str, Any], alerts: list[Alert], produced_ms: int) -> bytes:
        """Send the enriched trade to ``trades.execution`` and each alert to ``risk.alerts``; return the trade's
        JSON (the hot-table row the commit process writes)."""
        key = row["portfolio_id"].encode()
        event_id = row["event_id"]
        value = orjson.dumps(row)
        self._send(batch, self.execution_topic, key, value, event_id)
        for alert in alerts:
            body = alert_message(alert, event_id, row["source_offset"], row["trade_id"], row["portfolio_id"],
                                 row["security_id"], produced_ms)
            self._send(batch, self.alerts_topic, key, orjson.dumps(body), event_id)
        return value

    def publish_alert(self, batch: MicroBatch, alert: Alert, *, event_id: str, source_offset: int,
                      trade_id: str | None, portfolio_id: str | None, key: bytes | None, produced_ms: int) -> None:
        """Send an alert that has no enriched trade (an invalid record) to ``risk.alerts``."""
        body = alert_message(alert, event_id, source_offset, trade_id, portfolio_id, None, produced_ms)
        self._send(batch, self.alerts_topic, portfolio_id.encode() if portfolio_id else key, orjson.dumps(body),
                   event_id)

    def deliver(self, batch: MicroBatch, timeout_s: float) -> int:
        """Make sure every output of ``batch`` is acknowledged: re-send failures, flush, check; return re-sends.

        Raises :class:`DeliveryError` (naming the first failure) when the broker did not acknowledge all of them
        within ``timeout_s``; calling again re-sends only what is still missing.
        """
        resent = 0
        for message in batch.messages:
            future = message.future
            if future is None or (future.is_done and future.failed()):
                message.future = None
                try:
                    message.future = self.producer.send(message.topic, value=message.value, key=message.key,
                                                        headers=message.headers)
                    resent += 1
                except Exception as exc:
                    raise DeliveryError(f"re-send to {message.topic} failed: {type(exc).__name__}: {exc}") from exc
        try:
            self.producer.flush(timeout=timeout_s)
        except Exception as exc:
            raise DeliveryError(f"producer flush did not complete in {timeout_s:.0f} s: {type(exc).__name__}: "
                                f"{exc}") from exc
        failed = [m for m in batch.messages if m.future is None or not m.future.is_done or m.future.failed()]
        if failed:
            first = failed[0].future
            why = first.exception if first is not None and first.is_done else "not acknowledged"
            raise DeliveryError(f"{len(failed)} of {len(batch.messages)} outputs not delivered (first: "
                                f"{failed[0].topic}: {why})")
        self.degraded = False
        return resent
