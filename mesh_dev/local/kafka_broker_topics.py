"""Talking to a broker as a client: is it there and serving (:func:`probe`), and the development topics
(:func:`ensure_topics`, one replica by default: a single local broker). The trade worker creates its own output
topics with production settings (:mod:`trade_worker.topics`)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from mesh_dev.local.kafka_broker_layout import KafkaBrokerError

if TYPE_CHECKING:
    from resources.kafka_client import KafkaClientSettings

_TOPIC_ALREADY_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS


def _split(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return host or "127.0.0.1", int(port)


def probe(
    bootstrap: str, timeout_s: float = 5.0, client: KafkaClientSettings | None = None
) -> dict[str, Any] | None:
    """Ask ``bootstrap`` for its cluster metadata; ``None`` if nothing answers in time.

    ``client``: the security settings to connect with (default: this process's, see :mod:`resources.kafka_client`).
    Returns ``{"cluster_id", "controller_id", "brokers": [...], "topics": [...]}``.
    """
    from resources.kafka_client import new_admin

    host, port = _split(bootstrap)
    try:  # cheap TCP check first: kafka-python logs loudly when it cannot bootstrap
        socket.create_connection((host, port), timeout=min(timeout_s, 1.0)).close()
    except OSError:
        return None
    timeout_ms = max(int(timeout_s * 1000), 500)
    try:
        admin = new_admin(
            bootstrap,
            client,
            client_id="mesh-kafka-probe",
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms,
        )
    except Exception:
        return None
    try:
        cluster = admin.describe_cluster()
        topics = admin.list_topics()
    except Exception:
        return None
    finally:
        admin.close()
    return {
        "cluster_id": cluster.get("cluster_id"),
        "controller_id": cluster.get("controller_id"),
        "brokers": cluster.get("brokers") or [],
        "topics": sorted(topics),
    }


def serving(meta: dict[str, Any] | None) -> bool:
    brokers = (meta or {}).get("brokers") or []
    return bool(brokers) and not any(b.get("is_fenced") for b in brokers)


def ensure_topics(
    bootstrap: str,
    topics: dict[str, int],
    *,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
    client: KafkaClientSettings | None = None,
) -> None:
    """Create the missing topics of ``{name: partitions}`` and wait until every partition has a leader.

    Idempotent: existing topics are kept. An existing topic whose partition count differs from the one asked
    for is an error (keyed ordering depends on it): delete the topic, or the local data folder, to recreate it.
    ``client``: the security settings to connect with (default: this process's).
    """
    from resources.kafka_client import new_admin

    if not topics:
        return
    for name, partitions in topics.items():
        if partitions < 1:
            raise ValueError(f"topic {name!r}: partitions must be >= 1, not {partitions}")
    timeout_ms = int(timeout_s * 1000)
    with new_admin(
        bootstrap,
        client,
        client_id="mesh-kafka-topics",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=timeout_ms,
    ) as admin:
        existing = set(admin.list_topics())
        missing = {
            name: {"num_partitions": partitions, "replication_factor": replication_factor}
            for name, partitions in topics.items()
            if name not in existing
        }
        if missing:
            response = admin.create_topics(missing, timeout_ms=timeout_ms, raise_errors=False)
            failed = [
                f"{t['name']}: error {t['error_code']} {t.get('error_message') or ''}".strip()
                for t in response["topics"]
                if t["error_code"] not in (0, _TOPIC_ALREADY_EXISTS)
            ]
            if failed:
                raise KafkaBrokerError(f"could not create topics on {bootstrap}: " + "; ".join(failed))
        admin.wait_for_topics(list(topics), timeout_ms=timeout_ms)
        described = {t["name"]: len(t.get("partitions") or []) for t in admin.describe_topics(list(topics))}
    wrong = {name: (described.get(name), want) for name, want in topics.items() if described.get(name) != want}
    if wrong:
        detail = ", ".join(f"{name} has {have} partitions, wanted {want}" for name, (have, want) in wrong.items())
        raise KafkaBrokerError(f"existing topics on {bootstrap} differ from the request: {detail}")
