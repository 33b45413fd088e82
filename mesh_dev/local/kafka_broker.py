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

Pure Python, no Dagster import. Requires ``java`` (17+) and, the first time only, ``mvn``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import hashlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import uuid
import zipfile
from base64 import urlsafe_b64encode
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from mesh_dev.local.kafka_broker_security import PreparedListener, SaslSsl
    from resources.kafka_client import KafkaClientSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy" / "local" / "kafka"
POM = DEPLOY_DIR / "pom.xml"
SERVER_TEMPLATE = DEPLOY_DIR / "server.properties.template"

DEFAULT_PORT = 19092
NODE_ID = 1
#: Deterministic KRaft cluster id (a base64url Kafka Uuid): every local data folder is the same "cluster".
CLUSTER_ID = urlsafe_b64encode(uuid.uuid5(uuid.NAMESPACE_URL, "investment-data-mesh/local-kafka").bytes).decode()[:22]
#: JVM heap of the broker; override with env MESH_KAFKA_HEAP_OPTS (e.g. "-Xms256m -Xmx1g").
DEFAULT_HEAP_OPTS = "-Xms128m -Xmx512m"
JVM_OPTS = (
    "-XX:+UseSerialGC",  # one small heap on 2 shared cores: no concurrent GC threads
    "-XX:TieredStopAtLevel=1",  # C1 only: much less CPU at start-up, ample throughput for dev and tests
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
MVN_TIMEOUT_S = 1200
_TOPIC_ALREADY_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS

_LOG4J2 = """\
# Written by mesh_dev/local/kafka_broker.py on every start.
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

# Brokers started by this process: pid -> Popen (so exits are reaped), and data folders to stop at exit.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
_STOP_AT_EXIT: set[Path] = set()


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


class _Layout(NamedTuple):
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


def _layout(data_dir: Path | str | None) -> _Layout:
    raw = data_dir or os.environ.get("MESH_KAFKA_DATA") or REPO_ROOT / ".data" / "kafka"
    root = Path(raw).expanduser().resolve()
    logs = root / "logs"
    return _Layout(
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


def kafka_version() -> str:
    """The Kafka version pinned in ``deploy/local/kafka/pom.xml`` (property ``kafka.version``)."""
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", POM.read_text(encoding="utf-8"))
    if not match:
        raise KafkaBrokerError(f"no <kafka.version> property in {POM}")
    return match.group(1)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) held for the duration of the block."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# -- jars ----------------------------------------------------------------------------------------------


def _default_cache() -> Path:
    return Path(os.environ.get("MESH_KAFKA_CACHE") or REPO_ROOT / ".cache" / "kafka").expanduser().resolve()


def ensure_jars(cache_dir: Path | None = None) -> Path:
    """Resolve the broker's runtime classpath from Maven Central once, and return the folder of jars.

    Runs ``mvn -q -B --strict-checksums -f deploy/local/kafka/pom.xml dependency:copy-dependencies
    -DoutputDirectory=<cache>/kafka-<version>/libs`` unless that folder is already complete (a marker file
    records the pom it came from, so editing the pom refetches). The cache defaults to ``<repo>/.cache/kafka``
    (env ``MESH_KAFKA_CACHE``). Safe to call from several processes at once (file lock).

    Raises:
        KafkaBrokerError: ``mvn`` is missing or failed; the message names the artifact and the command.
    """
    version = kafka_version()
    artifact = f"org.apache.kafka:kafka_2.13:{version}"
    home = (Path(cache_dir).expanduser().resolve() if cache_dir else _default_cache()) / f"kafka-{version}"
    libs = home / "libs"
    marker = home / ".complete"
    stamp = hashlib.sha256(POM.read_bytes()).hexdigest()

    def ready() -> bool:
        try:
            return marker.read_text().strip() == stamp and (libs / f"kafka_2.13-{version}.jar").is_file()
        except OSError:
            return False

    if ready():
        return libs
    with _file_lock(home / ".lock"):
        if ready():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaBrokerError(
                f"Maven (mvn) is not on PATH: it is needed once to fetch {artifact} and its runtime "
                f"dependencies from Maven Central into {libs} (apt-get install maven)"
            )
        partial = home / "libs.partial"
        for stale in (partial, libs):
            shutil.rmtree(stale, ignore_errors=True)
        marker.unlink(missing_ok=True)
        cmd = [
            mvn, "-q", "-B", "--strict-checksums", "-Dstyle.color=never", "-f", str(POM),
            "dependency:copy-dependencies", f"-DoutputDirectory={partial}",
        ]  # fmt: skip
        try:
            proc = subprocess.run(cmd, cwd=DEPLOY_DIR, capture_output=True, text=True, timeout=MVN_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise KafkaBrokerError(
                f"fetching {artifact} timed out after {MVN_TIMEOUT_S}s\ncommand: {shlex.join(cmd)}"
            ) from exc
        if proc.returncode != 0 or not (partial / f"kafka_2.13-{version}.jar").is_file():
            output = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr).strip()  # no ANSI colours
            output = "\n".join(output.splitlines()[-40:])
            raise KafkaBrokerError(
                f"could not fetch {artifact} and its runtime dependencies from Maven Central "
                f"(exit code {proc.returncode})\ncommand: {shlex.join(cmd)}\n{output}"
            )
        partial.rename(libs)
        marker.write_text(stamp + "\n")
    return libs


# -- processes -----------------------------------------------------------------------------------------


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaBrokerError("java (17 or newer) is not on PATH and JAVA_HOME is not set: the Kafka broker needs it")
    return java


def _classpath(libs: Path) -> str:
    return f"{libs}{os.sep}*"


def _storage_tool_class(libs: Path) -> str:
    """The StorageTool main class of this Kafka version (Scala ``kafka.tools`` up to now, Java later)."""
    candidates = {
        "kafka/tools/StorageTool.class": "kafka.tools.StorageTool",
        "org/apache/kafka/tools/StorageTool.class": "org.apache.kafka.tools.StorageTool",
    }
    for jar in sorted(libs.glob("kafka*.jar")):
        with zipfile.ZipFile(jar) as archive:
            names = set(archive.namelist())
        for entry, cls in candidates.items():
            if entry in names:
                return cls
    raise KafkaBrokerError(f"no StorageTool class in the Kafka jars of {libs}")


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None
    except OSError:
        return None
    proc = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)  # no /proc
    return proc.stdout.strip() or None


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie answers kill(0) but is gone
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _is_our_broker(pid: int, layout: _Layout) -> bool:
    """Whether ``pid`` is alive and is the ``kafka.Kafka`` process of this data folder (not a reused pid)."""
    if not _alive(pid):
        return False
    cmdline = _cmdline(pid) or ""
    return "kafka.Kafka" in cmdline and str(layout.config) in cmdline


def _running_pid(layout: _Layout) -> int | None:
    try:
        pid = int(layout.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_our_broker(pid, layout) else None


def _read_state(layout: _Layout) -> dict[str, Any]:
    try:
        return json.loads(layout.state.read_text())
    except (OSError, ValueError):
        return {}


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM does: TIME_WAIT is no obstacle
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def find_free_port_pair(low: int = 20000, high: int = 32000, tries: int = 200) -> int:
    """A port ``p`` with ``p`` and ``p + 1`` free on 127.0.0.1, below Linux's ephemeral range.

    Staying below the ephemeral range (32768+) keeps client sockets from grabbing the port between this
    check and the broker's bind.
    """
    for _ in range(tries):
        port = random.randrange(low, high - 1)
        if _port_free(port) and _port_free(port + 1):
            return port
    raise KafkaBrokerError(f"no two adjacent free ports between {low} and {high} on 127.0.0.1")


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child before exec
    """Linux: the broker gets SIGTERM when the thread that started it dies (even on SIGKILL of the parent)."""
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        if os.getpgid(pid) == pid:  # the broker leads its own process group
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_exit(pid: int, timeout_s: float) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        try:
            child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


# -- client side ---------------------------------------------------------------------------------------


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


def _serving(meta: dict[str, Any] | None) -> bool:
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


# -- lifecycle -----------------------------------------------------------------------------------------


def _write_config(layout: _Layout, port: int, listener: PreparedListener | None = None) -> None:
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


def _format_storage(java: str, libs: Path, layout: _Layout, scram_args: list[str] | None = None) -> None:
    """Format ``log.dirs`` once (KRaft needs a cluster id and bootstrap metadata before the first start);
    ``scram_args`` (``--add-scram`` pairs) create SCRAM users in that bootstrap metadata."""
    if (layout.kraft / "meta.properties").is_file():
        return
    cmd = [
        java, "-Xmx256m", *JVM_OPTS, f"-Dlog4j2.configurationFile={layout.log4j}",
        "-cp", _classpath(libs), _storage_tool_class(libs),
        "format", "-t", CLUSTER_ID, "-c", str(layout.config), "--ignore-formatted", *(scram_args or []),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=layout.root, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not (layout.kraft / "meta.properties").is_file():
        shown = shlex.join(cmd[: len(cmd) - len(scram_args or [])]) + (" --add-scram ..." if scram_args else "")
        raise KafkaBrokerError(
            f"formatting the KRaft storage in {layout.kraft} failed (exit code {proc.returncode})\n"
            f"command: {shown}\n{(proc.stdout + proc.stderr).strip()}"
        )


def _wait_ready(
    pid: int, layout: _Layout, bootstrap: str, wait_s: float, client: KafkaClientSettings | None = None
) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        if not _alive(pid):
            child = _CHILDREN.get(pid)
            code = child.returncode if child is not None else "unknown"
            raise KafkaBrokerError(
                f"the Kafka broker (pid {pid}) exited with code {code} while starting on {bootstrap}\n"
                f"--- {layout.out}\n{_tail(layout.out, 20)}\n--- {layout.log_file}\n{_tail(layout.log_file)}"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise KafkaBrokerError(
                f"the Kafka broker (pid {pid}) did not answer a metadata request on {bootstrap} within {wait_s:g}s\n"
                f"--- {layout.log_file}\n{_tail(layout.log_file)}"
            )
        if _serving(probe(bootstrap, timeout_s=max(0.5, min(5.0, remaining)), client=client)):
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

    layout = _layout(data_dir)
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
    with _file_lock(layout.lock):
        pid = _running_pid(layout)
        if pid is not None:
            running_port = _read_state(layout).get("port")
            if running_port != port:
                raise KafkaBrokerError(
                    f"the broker of {layout.root} already runs (pid {pid}) on port {running_port}, not {port}: "
                    f"stop it first (mesh kafka stop --data-dir {layout.root})"
                )
            bootstrap = f"127.0.0.1:{port}"
            _wait_ready(pid, layout, bootstrap, wait_s, client)
            if stop_at_exit:
                _STOP_AT_EXIT.add(layout.root)
            return BrokerInfo(bootstrap, pid, layout.root, layout.log_file, _read_state(layout).get("version", ""),
                              protocol, ca_file)  # fmt: skip

        layout.pid.unlink(missing_ok=True)  # stale
        for needed in (port, port + 1):
            if not _port_free(needed):
                raise PortInUseError(
                    f"port {needed} on 127.0.0.1 is in use by another process (not the Kafka broker of "
                    f"{layout.root}); the broker needs ports {port} (clients) and {port + 1} (controller): "
                    "choose another port or stop that process"
                )
        libs = ensure_jars(cache_dir)
        java = _java()
        layout.logs.mkdir(parents=True, exist_ok=True)
        _write_config(layout, port, listener)
        _format_storage(java, libs, layout, listener.format_args if listener is not None else None)

        heap = shlex.split(os.environ.get("MESH_KAFKA_HEAP_OPTS") or DEFAULT_HEAP_OPTS)
        cmd = [
            java, *heap, *JVM_OPTS,
            f"-Dlog4j2.configurationFile={layout.log4j}", f"-Dkafka.logs.dir={layout.logs}",
            "-cp", _classpath(libs), "kafka.Kafka", str(layout.config),
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
                preexec_fn=_die_with_parent if stop_at_exit and _PRCTL is not None else None,
            )
        _CHILDREN[child.pid] = child
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
    layout = _layout(data_dir)
    _STOP_AT_EXIT.discard(layout.root)
    pid = _running_pid(layout)
    if pid is None:
        layout.pid.unlink(missing_ok=True)
        return False
    _signal(pid, signal.SIGTERM)
    if not _wait_exit(pid, timeout_s):
        _signal(pid, signal.SIGKILL)
        _wait_exit(pid, 10)
    layout.pid.unlink(missing_ok=True)
    _CHILDREN.pop(pid, None)
    return True


def status(data_dir: Path | None = None) -> dict[str, Any]:
    """Describe this data folder's broker.

    Returns ``running`` (process alive), ``reachable`` (answers metadata), ``pid``, ``bootstrap``, ``version``,
    ``data_dir``, ``log_file``, and when reachable ``cluster_id`` and ``topics``.
    """
    layout = _layout(data_dir)
    pid = _running_pid(layout)
    state = _read_state(layout)
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
            result.update(reachable=_serving(meta), cluster_id=meta["cluster_id"], topics=meta["topics"])
    return result


atexit.register(_stop_owned_at_exit)
