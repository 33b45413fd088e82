"""The ``kafka_broker`` fixture: one real Apache Kafka broker per test session.

Import it into a conftest (``from tests.kafka_fixtures import kafka_broker``). With env ``MESH_KAFKA_BOOTSTRAP``
set, the tests use that broker and manage nothing; otherwise a broker is started from the Maven Central jars
(:mod:`mesh_assets.local.kafka_broker`) on a free port in a temporary folder, and stopped at the end of the
session (finalizer, ``atexit``, and on Linux a parent-death signal if pytest itself is killed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from mesh_assets.local import kafka_broker as broker


@dataclass(frozen=True)
class KafkaEndpoint:
    """Where the session's broker listens, and the managed broker itself (None for an external one)."""

    bootstrap_servers: str
    managed: broker.BrokerInfo | None


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaEndpoint]:
    """A real Kafka broker for the whole session: ``MESH_KAFKA_BOOTSTRAP`` if set, else one started here."""
    external = os.environ.get("MESH_KAFKA_BOOTSTRAP")
    if external:
        yield KafkaEndpoint(bootstrap_servers=external, managed=None)
        return
    data_dir = tmp_path_factory.mktemp("kafka")
    info: broker.BrokerInfo | None = None
    for attempt in range(3):  # a port found free can be taken before the JVM binds it
        try:
            info = broker.start(data_dir, port=broker.find_free_port_pair(), wait_s=120, stop_at_exit=True)
            break
        except broker.PortInUseError:
            if attempt == 2:
                raise
    assert info is not None
    try:
        yield KafkaEndpoint(bootstrap_servers=info.bootstrap_servers, managed=info)
    finally:
        broker.stop(data_dir)
