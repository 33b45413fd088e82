"""The local Trino server's jars and JVM: resolved from Maven Central once, and Java 25 to run them.

``deploy/local/trino/server/pom.xml`` (``trino-main``) and ``deploy/local/trino/iceberg/pom.xml`` (the Iceberg
connector) pin the version; both import Trino's BOM. Maven Central serves no server tarball, so two pieces the
release packaging normally adds are made here, once, into the cache: the main class
(``deploy/local/trino/MeshTrinoServer.java``, compiled with Java 25's ``javac``) and the plugin's
``META-INF/services/io.trino.spi.Plugin`` entry (a tiny jar beside the plugin's jars). See
:mod:`mesh_dev.local.trino_server`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import NamedTuple

from mesh_dev.local.kafka_broker_layout import REPO_ROOT, file_lock
from mesh_dev.local.trino_layout import TrinoError

DEPLOY_DIR = REPO_ROOT / "deploy" / "local" / "trino"
SERVER_POM = DEPLOY_DIR / "server" / "pom.xml"
PLUGIN_POM = DEPLOY_DIR / "iceberg" / "pom.xml"
LAUNCHER_SOURCE = DEPLOY_DIR / "MeshTrinoServer.java"
MAIN_CLASS = "MeshTrinoServer"
PLUGIN_CLASS = "io.trino.plugin.iceberg.IcebergPlugin"
#: Where Java 25 is preinstalled on these machines; env ``MESH_TRINO_JAVA_HOME`` or ``JAVA25_HOME`` override it.
DEFAULT_JAVA_HOME = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
MIN_JAVA = 24  # Trino 483 refuses older runtimes
MVN_TIMEOUT_S = 1800


class TrinoJars(NamedTuple):
    """The cached runtime of one Trino version."""

    version: str
    lib: Path  # the server's classpath (trino-main and its runtime dependencies)
    launcher: Path  # the folder holding MeshTrinoServer.class
    plugins: Path  # plugin.dir: one sub-folder per plugin (iceberg/)


def trino_version() -> str:
    """The Trino version pinned in both poms (property ``trino.version``); they must agree."""
    versions = set()
    for pom in (SERVER_POM, PLUGIN_POM):
        match = re.search(r"<trino\.version>\s*([^<\s]+)\s*</trino\.version>", pom.read_text(encoding="utf-8"))
        if not match:
            raise TrinoError(f"no <trino.version> property in {pom}")
        versions.add(match.group(1))
    if len(versions) != 1:
        raise TrinoError(f"{SERVER_POM} and {PLUGIN_POM} pin different Trino versions: {sorted(versions)}")
    return versions.pop()


def _java_major(home: Path) -> int | None:
    try:
        release = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="(\d+)', release, re.MULTILINE)
    return int(match.group(1)) if match else None


def java_home() -> Path:
    """A Java ``MIN_JAVA``+ home: env ``MESH_TRINO_JAVA_HOME``, ``JAVA25_HOME``, :data:`DEFAULT_JAVA_HOME`, then
    ``JAVA_HOME``; the first that exists with a recent enough ``java`` wins."""
    candidates = [os.environ.get("MESH_TRINO_JAVA_HOME"), os.environ.get("JAVA25_HOME"), str(DEFAULT_JAVA_HOME),
                  os.environ.get("JAVA_HOME")]
    seen = []
    for raw in candidates:
        if not raw:
            continue
        home = Path(raw).expanduser()
        major = _java_major(home)
        seen.append(f"{home} (Java {major or '?'})")
        if major is not None and major >= MIN_JAVA and (home / "bin" / "java").is_file():
            return home
    raise TrinoError(
        f"Trino needs Java {MIN_JAVA} or newer and none was found among {', '.join(seen) or 'no candidates'}: "
        "install Java 25 or set MESH_TRINO_JAVA_HOME to its home"
    )


def _default_cache() -> Path:
    return Path(os.environ.get("MESH_TRINO_CACHE") or REPO_ROOT / ".cache" / "trino").expanduser().resolve()


def _stamp() -> str:
    digest = hashlib.sha256()
    for source in (SERVER_POM, PLUGIN_POM, LAUNCHER_SOURCE):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _copy_dependencies(pom: Path, into: Path, artifact: str) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise TrinoError(f"Maven (mvn) is not on PATH: it is needed once to fetch {artifact} and its runtime "
                         f"dependencies from Maven Central into {into} (apt-get install maven)")
    cmd = [mvn, "-q", "-B", "--strict-checksums", "-Dstyle.color=never", "-f", str(pom),
           "dependency:copy-dependencies", f"-DoutputDirectory={into}"]  # fmt: skip
    try:
        proc = subprocess.run(cmd, cwd=pom.parent, capture_output=True, text=True, timeout=MVN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise TrinoError(f"fetching {artifact} timed out after {MVN_TIMEOUT_S}s\ncommand: {shlex.join(cmd)}") from exc
    if proc.returncode != 0:
        output = "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr).strip().splitlines()[-40:])
        raise TrinoError(f"could not fetch {artifact} and its runtime dependencies from Maven Central "
                         f"(exit code {proc.returncode})\ncommand: {shlex.join(cmd)}\n{output}")


def _compile_launcher(lib: Path, into: Path) -> None:
    javac = java_home() / "bin" / "javac"
    if not javac.is_file():
        raise TrinoError(f"{javac} is missing: the Java home of Trino must be a JDK (javac compiles {MAIN_CLASS})")
    into.mkdir(parents=True, exist_ok=True)
    cmd = [str(javac), "-d", str(into), "-cp", f"{lib}{os.sep}*", str(LAUNCHER_SOURCE)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise TrinoError(f"compiling {LAUNCHER_SOURCE.name} failed (exit code {proc.returncode})\n"
                         f"command: {shlex.join(cmd)}\n{(proc.stdout + proc.stderr).strip()}")


def _write_plugin_service(plugin_dir: Path) -> None:
    """The ``META-INF/services/io.trino.spi.Plugin`` entry Trino's plugin loader looks for, as a small jar."""
    with zipfile.ZipFile(plugin_dir / "zz-mesh-iceberg-plugin-service.jar", "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        archive.writestr("META-INF/services/io.trino.spi.Plugin", PLUGIN_CLASS + "\n")


def ensure_jars(cache_dir: Path | None = None) -> TrinoJars:
    """Fetch Trino's server and Iceberg plugin from Maven Central once, compile the launcher, return the paths.

    The cache is ``<cache>/trino-<version>/`` (default ``<repo>/.cache/trino``, env ``MESH_TRINO_CACHE``); a
    marker records the poms and launcher it came from, so editing them refetches. ~500 MB and ~65 s on a cold
    Maven repository, instant afterwards. Safe to call from several processes at once (file lock).

    Raises:
        TrinoError: ``mvn`` or Java 25 is missing, or Maven failed; the message names the artifact and command.
    """
    version = trino_version()
    home = (Path(cache_dir).expanduser().resolve() if cache_dir else _default_cache()) / f"trino-{version}"
    jars = TrinoJars(version, home / "lib", home / "launcher", home / "plugin")
    marker, stamp = home / ".complete", _stamp()

    def ready() -> bool:
        try:
            return (marker.read_text().strip() == stamp and (jars.lib / f"trino-main-{version}.jar").is_file()
                    and (jars.launcher / f"{MAIN_CLASS}.class").is_file())
        except OSError:
            return False

    if ready():
        return jars
    with file_lock(home / ".lock"):
        if ready():
            return jars
        partial = home / "partial"
        shutil.rmtree(partial, ignore_errors=True)
        marker.unlink(missing_ok=True)
        _copy_dependencies(SERVER_POM, partial / "lib", f"io.trino:trino-main:{version}")
        _copy_dependencies(PLUGIN_POM, partial / "plugin" / "iceberg", f"io.trino:trino-iceberg:{version}")
        for needed in (partial / "lib" / f"trino-main-{version}.jar",
                       partial / "plugin" / "iceberg" / f"trino-iceberg-{version}.jar"):
            if not needed.is_file():
                raise TrinoError(f"Maven finished but {needed.name} is not in {needed.parent}")
        _write_plugin_service(partial / "plugin" / "iceberg")
        _compile_launcher(partial / "lib", partial / "launcher")
        for name in ("lib", "launcher", "plugin"):
            shutil.rmtree(home / name, ignore_errors=True)
            (partial / name).rename(home / name)
        shutil.rmtree(partial, ignore_errors=True)
        marker.write_text(stamp + "\n")
    return jars


def classpath(jars: TrinoJars) -> str:
    """The server's ``-cp``: every jar of ``lib/`` and the launcher's class folder."""
    return f"{jars.lib}{os.sep}*{os.pathsep}{jars.launcher}"
