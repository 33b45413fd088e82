"""A real Apache Kafka 4.x broker (KRaft, combined broker + controller) for development, tests and CI.

No Docker and nothing downloaded outside Maven Central: Maven resolves the broker's classpath from
``deploy/local/kafka/pom.xml`` (the single place where the Kafka version is pinned) into a cache folder,
and the broker runs as ``java -cp '<libs>/*' kafka.Kafka server.properties`` in its own process group.

A data folder (default ``<repo>/.data/kafka``, env ``MESH_KAFKA_DATA``) holds::

    server.properties   rendered from deploy/local/kafka/server.properties.template on every start
    log4j2.properties   logging configuration (rolling file logs/server.log)
    broker.pid          pid of the running broker (removed by stop)
    broker.json         port, pid and Kafka version of the last start
    broker.out          the JVM's own stdout/stderr (crashes, JVM errors)
    logs/server.log     the broker's log
    kraft/              log.dirs: the KRaft metadata log and the topics' partitions
    tls/                with a SASL_SSL listener: the test CA and the broker's PEM key store

The client listener is PLAINTEXT, or SASL_SSL with SCRAM-SHA-512 users and a trustme CA when :func:`start` is
given a :class:`~mesh_dev.local.kafka_broker_security.SaslSsl` (see that module).

Pure Python, no Dagster import. Requires ``java`` (17+) and, the first time only, ``mvn``. This module starts,
stops and describes the broker; its parts: the data folder and its files (:mod:`~mesh_dev.local.kafka_broker_layout`),
the jars and the JVM (:mod:`~mesh_dev.local.kafka_broker_jars`), the process
(:mod:`~mesh_dev.local.kafka_broker_process`) and the client side (:mod:`~mesh_dev.local.kafka_broker_topics`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesh_dev.local.kafka_broker_jars import (
    CLUSTER_ID,
    DEFAULT_HEAP_OPTS,
    JVM_OPTS,
    classpath,
    ensure_jars,
    format_storage,
    java_executable,
    kafka_version,
)
from mesh_dev.local.kafka_broker_layout import (
    DEFAULT_PORT,
    BrokerInfo,
    KafkaBrokerError,
    Layout,
    PortInUseError,
    data_layout,
    file_lock,
    read_state,
    tail,
    write_config,
)
from mesh_dev.local.kafka_broker_process import (
    CHILDREN,
    PRCTL,
    alive,
    die_with_parent,
    find_free_port_pair,
    port_free,
    running_pid,
    send_signal,
    wait_exit,
)
from mesh_dev.local.kafka_broker_topics import ensure_topics, probe, serving

if TYPE_CHECKING:
    from mesh_dev.local.kafka_broker_security import SaslSsl
    from resources.kafka_client import KafkaClientSettings

__all__ = [
    "CLUSTER_ID", "DEFAULT_PORT", "BrokerInfo", "KafkaBrokerError", "PortInUseError", "ensure_jars", "ensure_topics",
    "find_free_port_pair", "kafka_version", "probe", "start", "status", "stop",
]

#: Data folders of brokers this process started with ``stop_at_exit``: stopped at exit.
_STOP_AT_EXIT: set[Path] = set()


def _wait_ready(
    pid: int, layout: Layout, bootstrap: str, wait_s: float, client: KafkaClientSettings | None = None
) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        if not alive(pid):
            child = CHILDREN.get(pid)
            code = child.returncode if child is not None else "unknown"
            raise KafkaBrokerError(
                f"the Kafka broker (pid {pid}) exited with code {code} while starting on {bootstrap}\n"
                f"--- {layout.out}\n{tail(layout.out, 20)}\n--- {layout.log_file}\n{tail(layout.log_file)}"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise KafkaBrokerError(
                f"the Kafka broker (pid {pid}) did not answer a metadata request on {bootstrap} within {wait_s:g}s\n"
                f"--- {layout.log_file}\n{tail(layout.log_file)}"
            )
        if serving(probe(bootstrap, timeout_s=max(0.5, min(5.0, remaining)), client=client)):
            return
        time.sleep(0.25)


def _stop_owned_at_exit() -> None:
    for root in list(_STOP_AT_EXIT):
        with contextlib.suppress(Exception):
            stop(root, timeout_s=15)


def start(
    data_dir: Path | None = None,
    port: int = DEFAULT_PORT,
    wait_s: float = 60,
    *,
    stop_at_exit: bool = False,
    cache_dir: Path | None = None,
    security: SaslSsl | None = None,
) -> BrokerInfo:
    """Start (or find) this data folder's broker on ``127.0.0.1:port`` and wait until it serves metadata.

    The controller listens on ``port + 1``. The storage is formatted on first use (cluster id
    :data:`CLUSTER_ID`); topics and messages survive :func:`stop` / :func:`start`. If the data folder's
    broker already runs on ``port`` and answers, it is returned as is.

    Args:
        data_dir: the data folder; default env ``MESH_KAFKA_DATA`` or ``<repo>/.data/kafka``.
        port: the PLAINTEXT port for clients.
        wait_s: how long to wait for the broker to answer a metadata request.
        stop_at_exit: tie the broker to this process (tests): stopped by ``atexit``, and on Linux sent SIGTERM
            if this process dies (even by SIGKILL). Leave False for a broker that outlives its launcher (CLI).
        cache_dir: where the jars are cached, see :func:`ensure_jars`.
        security: a SASL_SSL client listener (SCRAM-SHA-512 users, trustme CA) instead of PLAINTEXT; its users
            are created when the data folder is first formatted, and the folder stays SASL_SSL on later starts.

    Raises:
        PortInUseError: ``port`` or ``port + 1`` is taken by something that is not this data folder's broker.
        KafkaBrokerError: jars, java, formatting or start-up failed (with the tail of the broker's log).
    """
    from resources.kafka_client import KafkaClientSettings

    layout = data_layout(data_dir)
    version = kafka_version()
    layout.root.mkdir(parents=True, exist_ok=True)
    listener = None
    if security is None and (layout.root / "tls" / "admin.secret").is_file():
        from mesh_dev.local.kafka_broker_security import SaslSsl

        security = SaslSsl()  # a SASL_SSL data folder stays SASL_SSL on restart (its users live in its metadata)
    if security is not None:
        from mesh_dev.local.kafka_broker_security import prepare

        listener = prepare(layout.root, security)
    client = listener.admin if listener is not None else KafkaClientSettings()
    protocol, ca_file = client.security_protocol, listener.ca_file if listener is not None else None
    with file_lock(layout.lock):
        pid = running_pid(layout)
        if pid is not None:
            running_port = read_state(layout).get("port")
            if running_port != port:
                raise KafkaBrokerError(
                    f"the broker of {layout.root} already runs (pid {pid}) on port {running_port}, not {port}: "
                    f"stop it first (mesh kafka stop --data-dir {layout.root})"
                )
            bootstrap = f"127.0.0.1:{port}"
            _wait_ready(pid, layout, bootstrap, wait_s, client)
            if stop_at_exit:
                _STOP_AT_EXIT.add(layout.root)
            return BrokerInfo(bootstrap, pid, layout.root, layout.log_file, read_state(layout).get("version", ""),
                              protocol, ca_file)  # fmt: skip

        layout.pid.unlink(missing_ok=True)  # stale
        for needed in (port, port + 1):
            if not port_free(needed):
                raise PortInUseError(
                    f"port {needed} on 127.0.0.1 is in use by another process (not the Kafka broker of "
                    f"{layout.root}); the broker needs ports {port} (clients) and {port + 1} (controller): "
                    "choose another port or stop that process"
                )
        libs = ensure_jars(cache_dir)
        java = java_executable()
        layout.logs.mkdir(parents=True, exist_ok=True)
        write_config(layout, port, listener)
        format_storage(java, libs, layout, listener.format_args if listener is not None else None)

        heap = shlex.split(os.environ.get("MESH_KAFKA_HEAP_OPTS") or DEFAULT_HEAP_OPTS)
        cmd = [
            java, *heap, *JVM_OPTS,
            f"-Dlog4j2.configurationFile={layout.log4j}", f"-Dkafka.logs.dir={layout.logs}",
            "-cp", classpath(libs), "kafka.Kafka", str(layout.config),
        ]  # fmt: skip
        with open(layout.out, "ab") as out:
            out.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} {shlex.join(cmd)}\n".encode())
            out.flush()
            child = subprocess.Popen(
                cmd,
                cwd=layout.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                preexec_fn=die_with_parent if stop_at_exit and PRCTL is not None else None,
            )
        CHILDREN[child.pid] = child
        layout.pid.write_text(f"{child.pid}\n")
        layout.state.write_text(
            json.dumps({"pid": child.pid, "port": port, "version": version, "started_at": time.time()}, indent=2)
        )
        if stop_at_exit:
            _STOP_AT_EXIT.add(layout.root)
        bootstrap = f"127.0.0.1:{port}"
        try:
            _wait_ready(child.pid, layout, bootstrap, wait_s, client)
        except BaseException:
            stop(layout.root, timeout_s=10)
            raise
        return BrokerInfo(bootstrap, child.pid, layout.root, layout.log_file, version, protocol, ca_file)


def stop(data_dir: Path | None = None, timeout_s: float = 30) -> bool:
    """Stop this data folder's broker: SIGTERM (controlled shutdown), SIGKILL after ``timeout_s``.

    Returns True if a broker was running, False if there was nothing to stop. The pid file is removed.
    """
    layout = data_layout(data_dir)
    _STOP_AT_EXIT.discard(layout.root)
    pid = running_pid(layout)
    if pid is None:
        layout.pid.unlink(missing_ok=True)
        return False
    send_signal(pid, signal.SIGTERM)
    if not wait_exit(pid, timeout_s):
        send_signal(pid, signal.SIGKILL)
        wait_exit(pid, 10)
    layout.pid.unlink(missing_ok=True)
    CHILDREN.pop(pid, None)
    return True


def status(data_dir: Path | None = None) -> dict[str, Any]:
    """Describe this data folder's broker.

    Returns ``running`` (process alive), ``reachable`` (answers metadata), ``pid``, ``bootstrap``, ``version``,
    ``data_dir``, ``log_file``, and when reachable ``cluster_id`` and ``topics``.
    """
    layout = data_layout(data_dir)
    pid = running_pid(layout)
    state = read_state(layout)
    port = state.get("port")
    bootstrap = f"127.0.0.1:{port}" if port else None
    result: dict[str, Any] = {
        "running": pid is not None,
        "reachable": False,
        "pid": pid,
        "bootstrap": bootstrap if pid is not None else None,
        "version": state.get("version") or kafka_version(),
        "data_dir": str(layout.root),
        "log_file": str(layout.log_file),
        "cluster_id": None,
        "topics": None,
    }
    if pid is not None and bootstrap:
        meta = probe(bootstrap)
        if meta is not None:
            result.update(reachable=serving(meta), cluster_id=meta["cluster_id"], topics=meta["topics"])
    return result


atexit.register(_stop_owned_at_exit)
