"""The worker's output topics (``trades.execution``, ``risk.alerts``), created with production settings.

The producer sends with ``acks='all'`` and idempotence: a record is safe once every in-sync replica has it.
That only means something when a topic has several replicas and refuses writes with too few in sync, so the
worker creates its outputs with ``replication.factor`` :data:`DEFAULT_REPLICATION_FACTOR` and
``min.insync.replicas`` :data:`DEFAULT_MIN_INSYNC_REPLICAS` (a 3-broker cluster such as MSK: one broker may be
down and writes go on, two down and they stop rather than risk a loss). A single development broker needs
``MESH_KAFKA_REPLICATION_FACTOR=1`` and ``MESH_KAFKA_MIN_INSYNC_REPLICAS=1``.

Idempotent: an existing topic is kept as it is (a lower replication than asked is logged, not changed); an
existing topic whose partition count differs from the one asked is one :class:`TopicSetupError` naming every
such topic (keyed ordering per portfolio depends on it). kafka-python's admin client does the work.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from resources.kafka_client import KafkaClientSettings

log = logging.getLogger(__name__)

REPLICATION_FACTOR_VAR = "MESH_KAFKA_REPLICATION_FACTOR"
MIN_INSYNC_REPLICAS_VAR = "MESH_KAFKA_MIN_INSYNC_REPLICAS"
DEFAULT_REPLICATION_FACTOR = 3
DEFAULT_MIN_INSYNC_REPLICAS = 2
_TOPIC_ALREADY_EXISTS = 36  # Kafka error codes
_INVALID_REPLICATION_FACTOR = 38


class TopicSetupError(RuntimeError):
    """The output topics cannot be made as asked (settings, broker count, partitions of an existing topic)."""


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TopicSetupError(f"{name} is {raw!r}; expected a whole number of brokers (1 or more)") from None
    if value < 1:
        raise TopicSetupError(f"{name} is {value}; expected 1 or more")
    return value


@dataclass(frozen=True)
class TopicSettings:
    """How the worker creates a missing output topic: replicas, and how many must acknowledge a write."""

    replication_factor: int = DEFAULT_REPLICATION_FACTOR
    min_insync_replicas: int = DEFAULT_MIN_INSYNC_REPLICAS
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.replication_factor < 1 or self.min_insync_replicas < 1:
            raise TopicSetupError(f"replication factor {self.replication_factor} and min.insync.replicas "
                                  f"{self.min_insync_replicas} must both be 1 or more")
        if self.min_insync_replicas > self.replication_factor:
            raise TopicSetupError(
                f"min.insync.replicas {self.min_insync_replicas} ({MIN_INSYNC_REPLICAS_VAR}) is above the "
                f"replication factor {self.replication_factor} ({REPLICATION_FACTOR_VAR}): no write could succeed")

    @classmethod
    def from_environment(cls) -> TopicSettings:
        """``MESH_KAFKA_REPLICATION_FACTOR`` (default 3) and ``MESH_KAFKA_MIN_INSYNC_REPLICAS`` (default 2, and
        never above the replication factor when only that is set)."""
        replication = _positive_int(REPLICATION_FACTOR_VAR, DEFAULT_REPLICATION_FACTOR)
        in_sync = _positive_int(MIN_INSYNC_REPLICAS_VAR, min(DEFAULT_MIN_INSYNC_REPLICAS, replication))
        return cls(replication, in_sync)

    def topic_options(self, partitions: int) -> dict:
        """The ``create_topics`` options of one topic of ``partitions`` partitions."""
        return {"num_partitions": partitions, "replication_factor": self.replication_factor,
                "configs": {"min.insync.replicas": str(self.min_insync_replicas)}}


def ensure_topics(bootstrap: str, topics: dict[str, int], settings: TopicSettings,
                  client: KafkaClientSettings | None = None) -> list[str]:
    """Create the missing topics of ``{name: partitions}`` with ``settings``; return the names created.

    Waits until every partition of every topic has a leader. Raises :class:`TopicSetupError` when the broker
    refuses a creation (e.g. fewer brokers than the replication factor) or an existing topic has a different
    partition count. ``client``: the security settings (default: this process's, :mod:`resources.kafka_client`).
    """
    from resources.kafka_client import new_admin

    for name, partitions in topics.items():
        if partitions < 1:
            raise ValueError(f"topic {name!r}: partitions must be >= 1, not {partitions}")
    if not topics:
        return []
    timeout_ms = int(settings.timeout_s * 1000)
    with new_admin(bootstrap, client, client_id="mesh-stream-topics", bootstrap_timeout_ms=timeout_ms,
                   request_timeout_ms=timeout_ms) as admin:
        existing = [name for name in topics if name in set(admin.list_topics())]
        if existing:  # checked before anything is created: a refused request changes nothing
            _check_partitions(bootstrap, topics, _describe(admin, existing))
        missing = {name: settings.topic_options(n) for name, n in topics.items() if name not in existing}
        created = _create(admin, bootstrap, missing, settings, timeout_ms) if missing else []
        admin.wait_for_topics(list(topics), timeout_ms=timeout_ms)
        described = _describe(admin, list(topics))
    _check_partitions(bootstrap, topics, described)  # another worker may have created one meanwhile
    for name, partitions in described.items():
        replicas = min((len(p.get("replica_nodes") or []) for p in partitions), default=0)
        if name not in created and replicas < settings.replication_factor:
            log.warning("topic %s exists with %d replica(s), fewer than the %d asked for: kept as it is", name,
                        replicas, settings.replication_factor)
    return created


def _describe(admin, names: list[str]) -> dict[str, list[dict]]:
    return {t["name"]: t.get("partitions") or [] for t in admin.describe_topics(names)}


def _check_partitions(bootstrap: str, wanted: dict[str, int], described: dict[str, list[dict]]) -> None:
    wrong = [f"{name} has {len(partitions)} partitions, the worker needs {wanted[name]}"
             for name, partitions in described.items() if len(partitions) != wanted[name]]
    if wrong:
        raise TopicSetupError(f"existing topics on {bootstrap} differ from what the worker needs: "
                              + "; ".join(wrong) + " (as many partitions as the trades topic: recreate them)")


def _create(admin, bootstrap: str, missing: dict[str, dict], settings: TopicSettings, timeout_ms: int) -> list[str]:
    """Create ``missing``; return the names this call created (one another client created meanwhile is fine)."""
    response = admin.create_topics(missing, timeout_ms=timeout_ms, raise_errors=False)
    created, failed = [], []
    for topic in response["topics"]:
        code = topic["error_code"]
        if code == 0:
            created.append(topic["name"])
        elif code != _TOPIC_ALREADY_EXISTS:
            failed.append(f"{topic['name']}: error {code} {topic.get('error_message') or ''}".strip())
    if failed:
        hint = ""
        if any(t["error_code"] == _INVALID_REPLICATION_FACTOR for t in response["topics"]):
            hint = (f"; the cluster has fewer brokers than the replication factor {settings.replication_factor}: "
                    f"set {REPLICATION_FACTOR_VAR} (and {MIN_INSYNC_REPLICAS_VAR}) to what it can hold, 1 for a "
                    "single development broker")
        raise TopicSetupError(f"could not create topics on {bootstrap}: " + "; ".join(failed) + hint)
    log.info("created topics %s (replication factor %d, min.insync.replicas %d)", sorted(created),
             settings.replication_factor, settings.min_insync_replicas)
    return created
