"""dbt for silver and gold: dbt-duckdb over the bronze Iceberg catalog locally, dbt-athena in aws.

The profile (``dbt_project/profiles.yml``) reads every connection setting from the environment; this
resource owns those settings and hands them to each dbt invocation, so the paths dbt uses are the
same ones the Iceberg and warehouse resources use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import ConfigurableResource
from pydantic import Field

from mesh_assets.lib.project_files import project_path
from resources.settings import overridden_environment

#: The dbt project behind silver and gold (its manifest is read by ``mesh_assets.warehouse.project``).
DBT_PROJECT_DIR = project_path("dbt_project")

if TYPE_CHECKING:
    from dagster_dbt import DbtCliInvocation


def dbt_executable() -> str:
    """The ``dbt`` installed beside this Python (the project's environment), else ``dbt`` from PATH."""
    import shutil
    import sys
    from pathlib import Path

    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.is_file() else (shutil.which("dbt") or "dbt")


def _seed_cli_version(dbt: Any, executable: str) -> None:
    """dagster-dbt learns the dbt version by running ``dbt --version``, which takes ~7 s here (dbt's
    imports). When the executable is this environment's own dbt, its version is dbt-core's installed
    package version: read that instead (dagster-dbt caches the value on the resource)."""
    import sys
    from importlib.metadata import version as package_version
    from pathlib import Path

    from packaging import version

    if Path(executable).parent == Path(sys.executable).parent:
        dbt.__dict__["_cli_version"] = version.parse(package_version("dbt-core"))


class DbtWarehouseResource(ConfigurableResource):
    """Runs the dbt project against the configured target: ``duckdb`` (local), ``athena`` (aws) or ``trino``
    (cluster)."""

    target: str = Field(description="dbt target: 'duckdb', 'athena' or 'trino'")
    duckdb_path: str | None = Field(default=None, description="DuckDB database file (duckdb target)")
    duckdb_memory_limit: str = Field(default="2GB", description="DuckDB memory_limit (it spills beyond)")
    iceberg_catalog_uri: str | None = Field(default=None, description="SQL catalog URI for dbt-duckdb's iceberg plugin")
    iceberg_warehouse: str | None = Field(default=None, description="warehouse root of that catalog")
    athena_workgroup: str | None = Field(default=None, description="Athena workgroup (athena target)")
    athena_staging_dir: str | None = Field(default=None, description="s3:// query result location (athena)")
    athena_data_dir: str | None = Field(default=None, description="s3:// location of dbt's Iceberg tables (athena)")
    region: str | None = Field(default=None, description="AWS region (athena)")
    trino_host: str | None = Field(default=None, description="Trino coordinator host (trino target)")
    trino_port: int | None = Field(default=None, description="Trino coordinator HTTP port (trino target)")
    trino_catalog: str | None = Field(default=None, description="Trino catalog of the Iceberg tables (trino target)")
    trino_user: str | None = Field(default=None, description="user dbt runs as on Trino (trino target)")
    days_per_build: int | None = Field(
        default=None, description="a range of more trading days than this is built by one dbt invocation per this "
        "many days (mesh_assets/warehouse/dbt_windows.py); None: the whole range at once")
    parse_cache_dir: str | None = Field(
        default=None, description="folder keeping dbt's partial parse of invocations without --vars (the entitlement "
        "reconcile, on-demand rebuilds), so the next one skips the full parse; None: always parse")

    def dbt_environment(self) -> dict[str, str]:
        """The environment variables ``profiles.yml`` reads, from this resource's configuration."""
        values = {
            "MESH_DBT_TARGET": self.target,
            "MESH_DUCKDB_PATH": self.duckdb_path,
            "MESH_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "MESH_ICEBERG_CATALOG_URI": self.iceberg_catalog_uri,
            "MESH_ICEBERG_WAREHOUSE_URI": self.iceberg_warehouse,
            "MESH_ATHENA_WORKGROUP": self.athena_workgroup,
            "MESH_ATHENA_STAGING_DIR": self.athena_staging_dir,
            "MESH_ATHENA_DATA_DIR": self.athena_data_dir,
            "AWS_REGION": self.region,
            "MESH_TRINO_HOST": self.trino_host,
            "MESH_TRINO_PORT": str(self.trino_port) if self.trino_port else None,
            "MESH_TRINO_CATALOG": self.trino_catalog,
            "MESH_TRINO_USER": self.trino_user,
            "DO_NOT_TRACK": "1",
        }
        return {name: value for name, value in values.items() if value}

    def cli(self, args: Sequence[str], context: Any = None, **kwargs: Any) -> DbtCliInvocation:
        """Start ``dbt <args>`` (dagster-dbt's invocation, streaming events) with this configuration."""
        from dagster_dbt import DbtCliResource

        if self.duckdb_path:
            Path(self.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        executable = dbt_executable()
        dbt = DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), target=self.target,
                             dbt_executable=executable)
        _seed_cli_version(dbt, executable)
        environment = self.dbt_environment()
        if self._reuses_parse(args):
            # dagster-dbt copies partial_parse.msgpack from $DBT_TARGET_PATH into the invocation's own target
            environment["DBT_TARGET_PATH"] = self.parse_cache_dir
        with overridden_environment(environment):
            return dbt.cli(list(args), context=context, **kwargs)

    def _reuses_parse(self, args: Sequence[str]) -> bool:
        # --vars change dbt's parse (and differ per window): only var-free invocations share one
        return bool(self.parse_cache_dir) and "--vars" not in args

    def keep_parse(self, args: Sequence[str], invocation: DbtCliInvocation) -> None:
        """After a successful var-free invocation, its partial parse becomes the cached one (atomic rename)."""
        import os
        from pathlib import Path

        produced = Path(invocation.target_path) / "partial_parse.msgpack"
        if not (self._reuses_parse(args) and invocation.is_successful() and produced.is_file()):
            return
        cache = Path(self.parse_cache_dir)
        cache.mkdir(parents=True, exist_ok=True)
        staged = cache / f".partial_parse.{os.getpid()}.msgpack"
        staged.write_bytes(produced.read_bytes())
        staged.replace(cache / "partial_parse.msgpack")
