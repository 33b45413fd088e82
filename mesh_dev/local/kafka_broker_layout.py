"""The local broker's data folder and the files written into it (see :mod:`mesh_dev.local.kafka_broker`).

Also the errors and the :class:`BrokerInfo` every part of the launcher shares.
"""

from __future__ import annotations

import contextlib
import json
import os
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from mesh_dev.local.kafka_broker_security import PreparedListener

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy" / "local" / "kafka"
POM = DEPLOY_DIR / "pom.xml"
SERVER_TEMPLATE = DEPLOY_DIR / "server.properties.template"

DEFAULT_PORT = 19092
NODE_ID = 1

_LOG4J2 = """\
# Written by mesh_dev/local/kafka_broker_layout.py on every start.
status = warn
name = mesh-local-kafka
# Kafka logs its own controlled shutdown from a JVM shutdown hook: keep log4j alive until the JVM exits.
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${logs}/server.log
appender.file.filePattern = ${logs}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
"""


class KafkaBrokerError(RuntimeError):
    """The local Kafka broker could not be prepared, started, reached or stopped."""


class PortInUseError(KafkaBrokerError):
    """A port the broker needs is taken by a process that is not this data folder's broker."""


@dataclass(frozen=True)
class BrokerInfo:
    """A running local broker."""

    bootstrap_servers: str
    pid: int
    data_dir: Path
    log_file: Path
    version: str = ""
    #: the client listener's protocol: PLAINTEXT, or SASL_SSL (see :mod:`mesh_dev.local.kafka_broker_security`)
    security_protocol: str = "PLAINTEXT"
    #: SASL_SSL: the PEM file of the CA that signed the broker's certificate (clients trust it)
    ca_file: Path | None = None

    @property
    def port(self) -> int:
        """The port clients connect to (the controller listens on ``port + 1``)."""
        return int(self.bootstrap_servers.rsplit(":", 1)[1])


class Layout(NamedTuple):
    """The paths of one data folder (see :mod:`mesh_dev.local.kafka_broker`'s list)."""

    root: Path
    config: Path
    log4j: Path
    pid: Path
    state: Path
    out: Path
    logs: Path
    log_file: Path
    kraft: Path
    lock: Path


def data_layout(data_dir: Path | str | None) -> Layout:
    """The paths of ``data_dir`` (default env ``MESH_KAFKA_DATA`` or ``<repo>/.data/kafka``)."""
    raw = data_dir or os.environ.get("MESH_KAFKA_DATA") or REPO_ROOT / ".data" / "kafka"
    root = Path(raw).expanduser().resolve()
    logs = root / "logs"
    return Layout(
        root=root,
        config=root / "server.properties",
        log4j=root / "log4j2.properties",
        pid=root / "broker.pid",
        state=root / "broker.json",
        out=root / "broker.out",
        logs=logs,
        log_file=logs / "server.log",
        kraft=root / "kraft",
        lock=root / ".lock",
    )


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) held for the duration of the block."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def read_state(layout: Layout) -> dict[str, Any]:
    try:
        return json.loads(layout.state.read_text())
    except (OSError, ValueError):
        return {}



def write_config(layout: Layout, port: int, listener: PreparedListener | None = None) -> None:
    cores = os.cpu_count() or 2
    rendered = string.Template(SERVER_TEMPLATE.read_text(encoding="utf-8")).substitute(
        port=port,
        controller_port=port + 1,
        node_id=NODE_ID,
        log_dirs=str(layout.kraft),
        num_network_threads=2,
        num_io_threads=max(2, min(cores, 8)),
        client_listener="SASL_SSL" if listener is not None else "PLAINTEXT",
        security_properties=listener.properties if listener is not None else "",
    )
    layout.config.write_text(rendered, encoding="utf-8")
    layout.log4j.write_text(string.Template(_LOG4J2).substitute(logs=str(layout.logs)), encoding="utf-8")
