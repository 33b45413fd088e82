"""The code location is installable: the built wheel, installed into a fresh virtualenv with only its declared
runtime dependencies (as locked, without the development extra), loads the same definitions outside the checkout.

Offline from uv's cache when it holds every locked wheel (after ``make bootstrap`` it does), else from PyPI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

#: Run by the installed interpreter, from a folder outside the checkout.
PROBE = """
import json, sys
from mesh_assets.definitions import build_definitions
import mesh_assets
from mesh_assets.warehouse.project import DBT_PROJECT_DIR, manifest_path
from mesh_assets.lib.data_products.tenant_filters import load_filter_spec
from mesh_assets.lib.trading_calendar import TRADING_DAYS_SEED

graph = build_definitions().resolve_asset_graph()
print(json.dumps({
    "package": mesh_assets.__file__,
    "sys_path": sys.path,
    "dbt_project": str(DBT_PROJECT_DIR),
    "manifest": str(manifest_path()),
    "seed_rows": len(TRADING_DAYS_SEED.read_text().splitlines()),
    "filters": len(load_filter_spec().product_tables),
    "asset_keys": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
    "check_keys": len(list(graph.asset_check_keys)),
    "dev_tools_imported": sorted(m for m in sys.modules if m.split(".")[0] in ("mesh_dev", "trustme")),
}))
"""


def _uv() -> str:
    """uv: the one running this session (``uv run`` sets ``UV``), on PATH, or the Makefile's bootstrap copy."""
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(ROOT / ".cache" / "bootstrap" / "bin" / "uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise AssertionError("uv not found: run `make bootstrap` (it installs uv into .cache/bootstrap)")


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_the_built_wheel_installs_into_a_fresh_virtualenv_and_loads_the_same_definitions(tmp_path: Path) -> None:
    uv = _uv()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    _run([uv, "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(ROOT)], cwd=ROOT, env=env)
    [wheel] = (tmp_path / "dist").glob("investment_data_mesh-*.whl")

    # the runtime dependencies exactly as locked: no dev group, no dev extra (the development tools' packages)
    requirements = tmp_path / "requirements.txt"
    _run([uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--no-header",
          "--output-file", str(requirements)], cwd=ROOT, env=env)
    assert "\ntrustme==" not in requirements.read_text()  # only the local Salesforce-compatible server needs it

    venv = tmp_path / "venv"
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    install = [uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements), str(wheel)]
    offline = subprocess.run([*install, "--offline"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                             env=env)
    if offline.returncode != 0:  # the cache lacks a wheel (a fresh machine): the same pins from PyPI
        _run(install, cwd=tmp_path, env=env)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    probe_env = {**env, "MESH_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(outside)}
    probe_env.pop("MESH_ENV", None)
    loaded = json.loads(_run([str(python), "-I", "-c", PROBE], cwd=outside, env=probe_env).stdout.splitlines()[-1])

    assert Path(loaded["package"]).is_relative_to(venv), loaded["package"]
    assert not [p for p in loaded["sys_path"] if p and Path(p).resolve().is_relative_to(ROOT)], loaded["sys_path"]
    for shipped in (loaded["dbt_project"], loaded["manifest"]):
        assert Path(shipped).is_relative_to(venv) and Path(shipped).exists(), shipped
    assert loaded["seed_rows"] > 250 and loaded["filters"] > 0
    assert loaded["dev_tools_imported"] == []

    from mesh_assets.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    assert loaded["asset_keys"] == sorted(key.to_user_string() for key in graph.get_all_asset_keys())
    assert loaded["check_keys"] == len(list(graph.asset_check_keys))
