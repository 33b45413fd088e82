"""The `athena` target's compiled SQL, offline, and how to run it on Trino (Athena's engine).

``dbt compile --target athena`` asks Glue which relations exist (``is_incremental()``, the relation cache), so it
runs here inside moto's in-process AWS mock (``python -m tests.support.athena_sql <dbt args>``): Glue answers that
nothing exists yet and every model compiles as its full build, the SQL a first ``dbt build`` on Athena runs.
The compiled relations are ``"awsdatacatalog"."<schema>"."<table>"``; :func:`to_trino` renames them into a
Trino catalog's scratch schemas.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "dbt_project"
ATHENA_RELATION = re.compile(r'"awsdatacatalog"\."([a-z_]+)"\.')


def compile_athena(target_dir: Path) -> dict[str, Any]:
    """``dbt compile --target athena`` into ``target_dir`` (moto stands in for Glue); the manifest it wrote."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MESH_DBT_TARGET"):
        env.pop(name, None)
    args = ["compile", "--target", "athena", "--target-path", str(target_dir), "--project-dir", str(PROJECT),
            "--profiles-dir", str(PROJECT), "--no-use-colors", "--no-partial-parse", "--log-path",
            str(target_dir / "logs")]
    proc = subprocess.run([sys.executable, "-m", "tests.support.athena_sql", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f"dbt compile --target athena failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return json.loads((target_dir / "manifest.json").read_text())


def build_order(manifest: Mapping[str, Any]) -> list[str]:
    """The project's models and seeds, each after everything it depends on (unique ids)."""
    nodes = {uid: node for uid, node in manifest["nodes"].items()
             if node["resource_type"] in ("model", "seed") and node["package_name"] == "investment_mesh"}
    order: list[str] = []
    done: set[str] = set()

    def visit(uid: str) -> None:
        if uid in done:
            return
        done.add(uid)
        for parent in nodes[uid]["depends_on"].get("nodes", []):
            if parent in nodes:
                visit(parent)
        order.append(uid)

    for uid in sorted(nodes):
        visit(uid)
    return order


def to_trino(sql: str, catalog: str, prefix: str) -> str:
    """Athena's ``"awsdatacatalog"."<schema>".`` as ``"<catalog>"."<prefix>_<schema>".`` (a plain rename)."""
    return ATHENA_RELATION.sub(lambda m: f'"{catalog}"."{prefix}_{m.group(1)}".', sql)


def _main(argv: list[str]) -> int:
    from dbt.cli.main import dbtRunner
    from moto import mock_aws

    with mock_aws():
        result = dbtRunner().invoke(argv)
    if result.exception is not None:
        print(f"dbt failed: {result.exception}", file=sys.stderr)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
