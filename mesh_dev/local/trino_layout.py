"""The local Trino server's data folder and the configuration written into it (see :mod:`mesh_dev.local.trino_server`).

A data folder (default ``<repo>/.data/trino``, env ``MESH_TRINO_DATA``) holds::

    etc/config.properties        the server: coordinator that is also its worker, HTTP port, memory
    etc/log.properties           log levels
    etc/catalog/<name>.properties the Iceberg catalog (JDBC catalog on PostgreSQL; owner-only, it holds a password)
    server.pid / server.json     pid of the running server; port, pid, version, catalog of the last start
    server.out                   the JVM's own stdout/stderr (start-up errors, crashes)
    logs/server.log              Trino's log (rotated at 20 MB, 100 MB kept)
    warehouse/                   the Iceberg warehouse root (file:// tables of pyiceberg and Trino alike)
    postgres/                    the catalog database (:mod:`mesh_dev.local.catalog_postgres`)
    cluster.env                  ``export`` lines selecting ``MESH_ENV=cluster`` against this server (owner-only)
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from mesh_dev.local.kafka_broker_layout import REPO_ROOT

DEFAULT_PORT = 18080
#: The Iceberg catalog's name: the same in Trino (its catalog file) and pyiceberg's SqlCatalog (its rows).
CATALOG = "mesh"
#: The user the code location's queries run as (no authentication on the local server).
DEFAULT_USER = "mesh"


class TrinoError(RuntimeError):
    """The local Trino server (or its catalog database) could not be prepared, started, reached or stopped."""


class PortInUseError(TrinoError):
    """The port the server needs is taken by a process that is not this data folder's server."""


@dataclass(frozen=True)
class CatalogDatabase:
    """Where the Iceberg JDBC catalog's PostgreSQL database listens and how to log in (a local secret)."""

    host: str
    port: int
    database: str
    user: str
    password: str

    def jdbc_url(self) -> str:
        """Trino's ``iceberg.jdbc-catalog.connection-url``."""
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"

    def sqlalchemy_uri(self) -> str:
        """pyiceberg ``SqlCatalog``'s ``uri`` (psycopg2 driver); holds the password: never log it."""
        return f"postgresql+psycopg2://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class TrinoInfo:
    """A running local Trino server and the catalog it serves."""

    host: str
    port: int
    pid: int
    data_dir: Path
    version: str
    catalog: str
    warehouse: Path
    catalog_db: CatalogDatabase
    log_file: Path

    @property
    def url(self) -> str:
        """The server's HTTP base URL."""
        return f"http://{self.host}:{self.port}"

    def warehouse_uri(self) -> str:
        """The warehouse root as the ``file://`` URI both engines write table locations under."""
        return self.warehouse.as_uri()

    def environment(self) -> dict[str, str]:
        """The environment variables that point ``MESH_ENV=cluster`` at this server (one holds a password)."""
        return {
            "MESH_ENV": "cluster",
            "MESH_TRINO_HOST": self.host,
            "MESH_TRINO_PORT": str(self.port),
            "MESH_TRINO_CATALOG": self.catalog,
            "MESH_ICEBERG_CATALOG_URI": self.catalog_db.sqlalchemy_uri(),
            "MESH_ICEBERG_WAREHOUSE": self.warehouse_uri(),
        }


class Layout(NamedTuple):
    """The paths of one data folder (see the module's list)."""

    root: Path
    etc: Path
    config: Path
    log_config: Path
    catalog_dir: Path
    pid: Path
    state: Path
    out: Path
    log_file: Path
    warehouse: Path
    postgres: Path
    env_file: Path
    lock: Path


def data_layout(data_dir: Path | str | None) -> Layout:
    """The paths of ``data_dir`` (default env ``MESH_TRINO_DATA`` or ``<repo>/.data/trino``)."""
    root = Path(data_dir or os.environ.get("MESH_TRINO_DATA") or REPO_ROOT / ".data" / "trino").expanduser().resolve()
    etc = root / "etc"
    return Layout(root=root, etc=etc, config=etc / "config.properties", log_config=etc / "log.properties",
                  catalog_dir=etc / "catalog", pid=root / "server.pid", state=root / "server.json",
                  out=root / "server.out", log_file=root / "logs" / "server.log", warehouse=root / "warehouse",
                  postgres=root / "postgres", env_file=root / "cluster.env", lock=root / ".lock")  # fmt: skip


def read_state(layout: Layout) -> dict[str, Any]:
    try:
        return json.loads(layout.state.read_text())
    except (OSError, ValueError):
        return {}


def _properties(values: dict[str, Any]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


_HEAP_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}


def query_memory_mb(jvm_opts: list[str]) -> int:
    """Memory one query may take on the node: 55 % of the ``-Xmx`` in ``jvm_opts``.

    Derived, not fixed: Trino refuses to start when query memory plus headroom exceed the heap, so the two move
    together when ``MESH_TRINO_HEAP_OPTS`` changes the heap.
    """
    return int(_max_heap_bytes(jvm_opts) * 0.55) // 2**20


def headroom_mb(jvm_opts: list[str]) -> int:
    """Heap kept out of Trino's memory pool (its default is 30 %): 40 % of the ``-Xmx``.

    Measured: the large firm's full history on a 3 GB heap held 2.2 GB of accounted query memory (a distinct over
    every position, and a second model beside it) when the heap ran out (OutOfMemoryError, 3.21 GB live after
    full collections): ~1 GB the pool does not count. A smaller pool makes the queries spill to disk sooner.
    """
    return int(_max_heap_bytes(jvm_opts) * 0.40) // 2**20


def _max_heap_bytes(jvm_opts: list[str]) -> int:
    for opt in reversed(jvm_opts):
        if match := re.fullmatch(r"-Xmx(\d+)([kmgKMG]?)", opt):
            return int(match[1]) * _HEAP_UNITS[match[2].lower()]
    raise TrinoError(f"the Trino JVM options {' '.join(jvm_opts)!r} set no -Xmx; give the heap, e.g. -Xmx3G")


def write_config(layout: Layout, port: int, plugins: Path, catalog: str, db: CatalogDatabase,
                 query_mb: int, headroom: int | None = None) -> None:
    """Render ``etc/``: the server's config (``query_mb`` per query, ``headroom`` MB of heap outside the memory
    pool), log levels and the Iceberg catalog file (owner-only)."""
    layout.catalog_dir.mkdir(parents=True, exist_ok=True)
    layout.warehouse.mkdir(parents=True, exist_ok=True)
    layout.config.write_text(_properties({
        "coordinator": "true",
        "node-scheduler.include-coordinator": "true",
        "http-server.http.port": port,
        "discovery.uri": f"http://127.0.0.1:{port}",
        "node.environment": "mesh_local",
        "node.id": "mesh-local-1",
        "plugin.dir": plugins,
        "catalog.config-dir": layout.catalog_dir,
        # one node: the query's whole memory is this node's; past it, joins, sorts and windows spill to disk
        "query.max-memory": f"{query_mb}MB",
        "query.max-memory-per-node": f"{query_mb}MB",
        **({"memory.heap-headroom-per-node": f"{headroom}MB"} if headroom else {}),
        "spill-enabled": "true",
        "spiller-spill-path": layout.root / "spill",
        "log.path": layout.log_file,
        "log.max-size": "20MB",
        "log.max-total-size": "100MB",
        "log.enable-console": "false",  # server.out keeps only what the JVM prints before logging starts
    }), encoding="utf-8")  # fmt: skip
    layout.log_config.write_text(_properties({"io.trino": "INFO", "org.apache.iceberg": "WARN"}), encoding="utf-8")
    for stale in layout.catalog_dir.glob("*.properties"):
        stale.unlink()
    catalog_file = layout.catalog_dir / f"{catalog}.properties"
    catalog_file.touch(mode=0o600)
    catalog_file.chmod(0o600)
    catalog_file.write_text(_properties({
        "connector.name": "iceberg",
        "iceberg.catalog.type": "jdbc",
        # pyiceberg's SqlCatalog keeps its rows in the same iceberg_tables table under this name
        "iceberg.jdbc-catalog.catalog-name": catalog,
        "iceberg.jdbc-catalog.driver-class": "org.postgresql.Driver",
        "iceberg.jdbc-catalog.connection-url": db.jdbc_url(),
        "iceberg.jdbc-catalog.connection-user": db.user,
        "iceberg.jdbc-catalog.connection-password": db.password,
        "iceberg.jdbc-catalog.default-warehouse-dir": layout.warehouse.as_uri(),
        # file:///abs/path locations (what pyiceberg writes) resolve against the local file system's root "/"
        "fs.local.enabled": "true",
        "local.location": "/",
        # pyarrow cannot decode DELTA_LENGTH_BYTE_ARRAY pages in Trino's position-delete files (MERGE)
        "parquet.writer.delta-length-byte-array-encoding-enabled": "false",
    }), encoding="utf-8")  # fmt: skip


def write_environment(layout: Layout, info: TrinoInfo) -> None:
    """``cluster.env``: ``export`` lines for ``MESH_ENV=cluster`` (owner-only: the catalog URI holds a password)."""
    layout.env_file.touch(mode=0o600)
    layout.env_file.chmod(0o600)
    layout.env_file.write_text("".join(f"export {key}={value}\n" for key, value in info.environment().items()))
