"""The ``kafka_broker`` fixture: one real Apache Kafka broker per test session.

Import it into a conftest (``from tests.kafka_fixtures import kafka_broker``). With env ``MESH_KAFKA_BOOTSTRAP``
set, the tests use that broker and manage nothing; otherwise a broker is started from the Maven Central jars
(:mod:`mesh_dev.local.kafka_broker`) on a free port in a temporary folder, and stopped at the end of the
session (finalizer, ``atexit``, and on Linux a parent-death signal if pytest itself is killed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from mesh_dev.local import kafka_broker as broker


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


@dataclass(frozen=True)
class SaslKafkaEndpoint:
    """A broker whose only client listener is SASL_SSL (SCRAM-SHA-512, a trustme CA); its users' passwords."""

    bootstrap_servers: str
    ca_file: str
    users: dict[str, str]

    def environment(self, user: str, password: str | None = None) -> dict[str, str]:
        """The ``MESH_KAFKA_*`` settings of ``user`` (with ``password`` instead of the real one, if given)."""
        from mesh_dev.local.kafka_broker_security import user_settings

        return user_settings(self.ca_file, user, self.users[user] if password is None else password).to_environment()


#: The SASL broker's client users (SCRAM-SHA-512): the CDC ingest, the trade worker, the test's own producer.
SASL_USERS = ("mesh-ingest", "mesh-stream", "mesh-test-producer")


@pytest.fixture(scope="session")
def sasl_kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslKafkaEndpoint]:
    """A second real broker for the session, started with a SASL_SSL listener only (users made at format time)."""
    import secrets

    from mesh_dev.local.kafka_broker_security import SaslSsl

    users = {name: secrets.token_urlsafe(16) for name in SASL_USERS}
    data_dir = tmp_path_factory.mktemp("kafka-sasl")
    info: broker.BrokerInfo | None = None
    for attempt in range(3):
        try:
            info = broker.start(data_dir, port=broker.find_free_port_pair(), wait_s=120, stop_at_exit=True,
                                security=SaslSsl(users=users))
            break
        except broker.PortInUseError:
            if attempt == 2:
                raise
    assert info is not None and info.ca_file is not None
    try:
        yield SaslKafkaEndpoint(info.bootstrap_servers, str(info.ca_file), users)
    finally:
        broker.stop(data_dir)
