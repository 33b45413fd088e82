"""The trade worker is its own deployable: it imports neither Dagster nor the development package (mesh_dev),
directly or through anything it imports, at start-up or in the functions it imports lazily."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from trade_worker.topics import TopicSettings, TopicSetupError

REPO = Path(__file__).resolve().parents[2]
WORKER = REPO / "trade_worker"
FORBIDDEN = ("dagster", "dagster_aws", "dagster_dbt", "mesh_dev")


def _imported_names(path: Path) -> set[str]:
    """Every module an ``import`` / ``from ... import`` anywhere in ``path`` names (top level or in a function)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f"{f}.") or name.startswith(f"{f}_") for f in FORBIDDEN)


def test_no_worker_module_names_dagster_or_development_code():
    modules = sorted(WORKER.glob("*.py"))
    assert len(modules) > 10
    named = {path.name: sorted(n for n in _imported_names(path) if _forbidden(n)) for path in modules}
    assert not any(named.values()), {k: v for k, v in named.items() if v}


def test_importing_every_worker_module_and_what_it_imports_lazily_loads_no_dagster_and_no_mesh_dev():
    """One fresh interpreter imports every ``trade_worker`` module and every module they import inside functions
    (pyiceberg, kafka, the lakehouse library, resources.kafka_client, ...); then no forbidden module is loaded."""
    modules = sorted(f"trade_worker.{p.stem}" for p in WORKER.glob("*.py") if p.stem != "__main__")
    lazy = set().union(*(_imported_names(p) for p in WORKER.glob("*.py")))
    lazy = sorted(n for n in lazy if n.split(".")[0] in ("mesh_assets", "resources", "pyiceberg", "kafka",
                                                         "duckdb", "pyathena", "pybreaker", "pyarrow"))
    code = ("import importlib, json, sys\n"
            f"for name in {modules + lazy!r}: importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout)
    assert "trade_worker.worker" in loaded and "pyiceberg.catalog" in loaded and "kafka.admin" in loaded
    assert not [m for m in loaded if _forbidden(m)], [m for m in loaded if _forbidden(m)]


def test_the_worker_process_entry_point_imports_no_dagster():
    """``python -X importtime`` of what ``python -m trade_worker`` loads before it parses its options."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import trade_worker.worker, trade_worker.cli"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    timed = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert "trade_worker.worker" in timed
    assert not [m for m in timed if _forbidden(m)]


def test_topic_settings_default_to_a_three_broker_cluster_and_follow_the_environment(monkeypatch):
    monkeypatch.delenv("MESH_KAFKA_REPLICATION_FACTOR", raising=False)
    monkeypatch.delenv("MESH_KAFKA_MIN_INSYNC_REPLICAS", raising=False)
    assert TopicSettings.from_environment() == TopicSettings(3, 2)
    monkeypatch.setenv("MESH_KAFKA_REPLICATION_FACTOR", "1")
    assert TopicSettings.from_environment() == TopicSettings(1, 1)  # in-sync never above the replicas by default
    monkeypatch.setenv("MESH_KAFKA_REPLICATION_FACTOR", "5")
    monkeypatch.setenv("MESH_KAFKA_MIN_INSYNC_REPLICAS", "3")
    assert TopicSettings.from_environment() == TopicSettings(5, 3)
    assert TopicSettings(5, 3).topic_options(4) == {"num_partitions": 4, "replication_factor": 5,
                                                    "configs": {"min.insync.replicas": "3"}}


@pytest.mark.parametrize(("replicas", "in_sync", "message"), [
    ("three", None, "MESH_KAFKA_REPLICATION_FACTOR is 'three'"),
    ("0", None, "MESH_KAFKA_REPLICATION_FACTOR is 0"),
    ("2", "3", "min.insync.replicas 3 (MESH_KAFKA_MIN_INSYNC_REPLICAS) is above the replication factor 2"),
])
def test_a_wrong_topic_setting_is_one_error_naming_the_variable(monkeypatch, replicas, in_sync, message):
    monkeypatch.setenv("MESH_KAFKA_REPLICATION_FACTOR", replicas)
    if in_sync is None:
        monkeypatch.delenv("MESH_KAFKA_MIN_INSYNC_REPLICAS", raising=False)
    else:
        monkeypatch.setenv("MESH_KAFKA_MIN_INSYNC_REPLICAS", in_sync)
    with pytest.raises(TopicSetupError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TopicSettings.from_environment()
