"""The local Trino launcher's pure parts: the pinned version, which Java it picks, and the files it writes.

The server itself runs in tests/integration/test_trino_cluster.py (fixture ``trino_cluster``).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mesh_dev.local import trino_jars
from mesh_dev.local.trino_layout import (
    CatalogDatabase,
    TrinoError,
    TrinoInfo,
    data_layout,
    headroom_mb,
    query_memory_mb,
    write_config,
)


def _java_home(root: Path, version: str) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "java").write_text("#!/bin/sh\n")
    (root / "release").write_text(f'IMPLEMENTOR="Test"\nJAVA_VERSION="{version}"\n')
    return root


def test_both_poms_pin_one_trino_version_and_import_its_bom():
    assert trino_jars.trino_version() == "483"
    for pom in (trino_jars.SERVER_POM, trino_jars.PLUGIN_POM):
        text = pom.read_text()
        assert "<artifactId>trino-root</artifactId>" in text and "<scope>import</scope>" in text, pom


def test_java_home_skips_a_java_too_old_for_trino(tmp_path, monkeypatch):
    old, new = _java_home(tmp_path / "jdk17", "17.0.12"), _java_home(tmp_path / "jdk25", "25.0.1")
    monkeypatch.setenv("MESH_TRINO_JAVA_HOME", str(old))
    monkeypatch.setenv("JAVA25_HOME", str(new))
    assert trino_jars.java_home() == new


def test_no_recent_java_is_one_error_naming_every_candidate(tmp_path, monkeypatch):
    old = _java_home(tmp_path / "jdk17", "17.0.12")
    monkeypatch.setenv("MESH_TRINO_JAVA_HOME", str(old))
    monkeypatch.delenv("JAVA25_HOME", raising=False)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "missing"))
    monkeypatch.setattr(trino_jars, "DEFAULT_JAVA_HOME", tmp_path / "also-missing")
    with pytest.raises(TrinoError) as refused:
        trino_jars.java_home()
    message = str(refused.value)
    assert message.startswith("Trino needs Java 24 or newer and none was found among ")
    assert f"{old} (Java 17)" in message and "also-missing (Java ?)" in message and "MESH_TRINO_JAVA_HOME" in message


def test_the_catalog_file_is_owner_only_and_shares_the_catalog_with_pyiceberg(tmp_path):
    layout = data_layout(tmp_path / "trino")
    layout.catalog_dir.mkdir(parents=True)
    (layout.catalog_dir / "old.properties").write_text("connector.name=memory\n")
    db = CatalogDatabase("127.0.0.1", 5433, "iceberg", "iceberg", "pw-123")
    write_config(layout, 18080, tmp_path / "plugin", "mesh", db, query_mb=1689, headroom=1228)

    files = sorted(path.name for path in layout.catalog_dir.iterdir())
    assert files == ["mesh.properties"]  # one catalog: a renamed one does not linger
    catalog = layout.catalog_dir / "mesh.properties"
    assert stat.S_IMODE(catalog.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in catalog.read_text().splitlines())
    assert values["iceberg.jdbc-catalog.catalog-name"] == "mesh"
    assert values["iceberg.jdbc-catalog.connection-url"] == "jdbc:postgresql://127.0.0.1:5433/iceberg"
    assert values["iceberg.jdbc-catalog.default-warehouse-dir"] == layout.warehouse.as_uri()
    assert (values["fs.local.enabled"], values["local.location"]) == ("true", "/")
    server = dict(line.split("=", 1) for line in layout.config.read_text().splitlines())
    assert (server["http-server.http.port"], server["plugin.dir"]) == ("18080", str(tmp_path / "plugin"))
    assert server["query.max-memory-per-node"] == server["query.max-memory"] == "1689MB"
    assert server["memory.heap-headroom-per-node"] == "1228MB" and server["spill-enabled"] == "true"


def test_query_memory_and_headroom_follow_the_heap_and_a_heap_is_required():
    # Trino refuses to start when query memory + headroom exceed the heap: 55 % + 40 % always fits
    assert (query_memory_mb(["-Xmx3G"]), headroom_mb(["-Xmx3G"])) == (1689, 1228)
    assert (query_memory_mb(["-Xms1g", "-Xmx4096m"]), headroom_mb(["-Xmx4096m"])) == (2252, 1638)
    assert query_memory_mb(["-Xmx2G", "-Xmx3G"]) == 1689  # the JVM takes the last one
    with pytest.raises(TrinoError, match="set no -Xmx"):
        query_memory_mb(["-Xms1G"])


def test_the_cluster_environment_of_a_server_names_every_cluster_setting():
    from resources.settings import cluster_required_settings

    db = CatalogDatabase("127.0.0.1", 5433, "iceberg", "iceberg", "pw-123")
    info = TrinoInfo("127.0.0.1", 18080, 1, Path("/d"), "483", "mesh", Path("/d/warehouse"), db, Path("/d/out"))
    env = info.environment()
    assert env["MESH_ENV"] == "cluster" and set(cluster_required_settings()) <= set(env)
    assert env["MESH_ICEBERG_CATALOG_URI"] == "postgresql+psycopg2://iceberg:pw-123@127.0.0.1:5433/iceberg"
    assert env["MESH_ICEBERG_WAREHOUSE"] == "file:///d/warehouse"
