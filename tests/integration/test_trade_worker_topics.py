"""The worker's output topics against the real test broker: created with the replication settings it is given,
idempotent, and one clear error for an existing topic with other partitions or a cluster too small."""

from __future__ import annotations

import uuid

import pytest

from trade_worker.topics import TopicSettings, TopicSetupError, ensure_topics

pytestmark = pytest.mark.integration


def _described(bootstrap: str, names: list[str]) -> dict[str, tuple[int, int, tuple | None]]:
    """``{topic: (partitions, replicas of partition 0, (min.insync.replicas, where it is set))}`` as the broker
    reports them (``DYNAMIC_TOPIC_CONFIG``: set on the topic itself, not the broker's default)."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    with KafkaAdminClient(bootstrap_servers=bootstrap) as admin:
        topics = {t["name"]: t for t in admin.describe_topics(names)}
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name) for name in names],
                                         config_filter="all")
    return {name: (len(topics[name]["partitions"]), len(topics[name]["partitions"][0]["replica_nodes"]),
                   _config_value(configs, name, "min.insync.replicas")) for name in names}


def _config_value(configs, topic: str, key: str) -> tuple[str, str] | None:
    """``key`` of ``topic`` in ``describe_configs``' answer ({resource type: {name: {key: {value...}}}})."""
    for resources in configs.values():
        entry = (resources.get(topic) or {}).get(key)
        if entry is not None:
            return entry["value"], entry["config_source"]
    return None


def _topics(bootstrap: str) -> set[str]:
    from kafka import KafkaAdminClient

    with KafkaAdminClient(bootstrap_servers=bootstrap) as admin:
        return set(admin.list_topics())


def test_output_topics_are_created_with_the_settings_given_and_a_second_call_changes_nothing(kafka_broker):
    bootstrap = kafka_broker.bootstrap_servers
    prefix = f"twt{uuid.uuid4().hex[:8]}."
    names = [f"{prefix}trades.execution", f"{prefix}risk.alerts"]
    settings = TopicSettings(replication_factor=1, min_insync_replicas=1)

    assert sorted(ensure_topics(bootstrap, dict.fromkeys(names, 3), settings)) == sorted(names)
    assert _described(bootstrap, names) == dict.fromkeys(names, (3, 1, ("1", "DYNAMIC_TOPIC_CONFIG")))
    # idempotent: existing topics are fine, nothing created, nothing changed
    assert ensure_topics(bootstrap, dict.fromkeys(names, 3), settings) == []
    assert _described(bootstrap, names) == dict.fromkeys(names, (3, 1, ("1", "DYNAMIC_TOPIC_CONFIG")))

    # an existing topic with other partitions: one error naming it and both counts, nothing created or changed
    other = f"{prefix}other"
    with pytest.raises(TopicSetupError) as raised:
        ensure_topics(bootstrap, {names[0]: 5, other: 5}, settings)
    assert f"{names[0]} has 3 partitions, the worker needs 5" in str(raised.value)
    assert str(raised.value).count("partitions, the worker needs") == 1
    assert _described(bootstrap, names) == dict.fromkeys(names, (3, 1, ("1", "DYNAMIC_TOPIC_CONFIG")))
    assert other not in _topics(bootstrap)


def test_production_replication_on_a_single_broker_is_one_error_naming_the_setting(kafka_broker):
    """The default (3 replicas, 2 in sync) really reaches the broker: the one-node test cluster refuses it."""
    bootstrap = kafka_broker.bootstrap_servers
    name = f"twt{uuid.uuid4().hex[:8]}.trades.execution"
    with pytest.raises(TopicSetupError) as raised:
        ensure_topics(bootstrap, {name: 2}, TopicSettings())
    message = str(raised.value)
    assert name in message and "replication factor 3" in message and "MESH_KAFKA_REPLICATION_FACTOR" in message
    assert name not in _topics(bootstrap)
