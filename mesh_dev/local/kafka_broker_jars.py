"""The broker's JVM and classpath: the Kafka jars resolved from Maven Central once (``deploy/local/kafka/pom.xml``
pins the version), ``java``, and the one-time KRaft storage format (see :mod:`mesh_dev.local.kafka_broker`)."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import uuid
import zipfile
from base64 import urlsafe_b64encode
from pathlib import Path

from mesh_dev.local.kafka_broker_layout import DEPLOY_DIR, POM, REPO_ROOT, KafkaBrokerError, Layout, file_lock

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


def kafka_version() -> str:
    """The Kafka version pinned in ``deploy/local/kafka/pom.xml`` (property ``kafka.version``)."""
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", POM.read_text(encoding="utf-8"))
    if not match:
        raise KafkaBrokerError(f"no <kafka.version> property in {POM}")
    return match.group(1)


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
    with file_lock(home / ".lock"):
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


def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaBrokerError("java (17 or newer) is not on PATH and JAVA_HOME is not set: the Kafka broker needs it")
    return java


def classpath(libs: Path) -> str:
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


def format_storage(java: str, libs: Path, layout: Layout, scram_args: list[str] | None = None) -> None:
    """Format ``log.dirs`` once (KRaft needs a cluster id and bootstrap metadata before the first start);
    ``scram_args`` (``--add-scram`` pairs) create SCRAM users in that bootstrap metadata."""
    if (layout.kraft / "meta.properties").is_file():
        return
    cmd = [
        java, "-Xmx256m", *JVM_OPTS, f"-Dlog4j2.configurationFile={layout.log4j}",
        "-cp", classpath(libs), _storage_tool_class(libs),
        "format", "-t", CLUSTER_ID, "-c", str(layout.config), "--ignore-formatted", *(scram_args or []),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=layout.root, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not (layout.kraft / "meta.properties").is_file():
        shown = shlex.join(cmd[: len(cmd) - len(scram_args or [])]) + (" --add-scram ..." if scram_args else "")
        raise KafkaBrokerError(
            f"formatting the KRaft storage in {layout.kraft} failed (exit code {proc.returncode})\n"
            f"command: {shown}\n{(proc.stdout + proc.stderr).strip()}"
        )
