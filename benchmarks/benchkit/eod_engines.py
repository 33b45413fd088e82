"""The full-history end-of-day backfill on each warehouse engine, launched the way users launch it.

For one firm (generated once), per engine: a fresh instance with a webserver and a daemon
(:class:`benchkit.user_platform.Platform`), ``bronze_sources`` then ``eod_batch`` over every trading day as one
run (what a single-run backfill launches), through GraphQL, the queued run coordinator and the run launcher.
``duckdb`` is ``MESH_ENV=local``; ``trino`` is ``MESH_ENV=cluster`` against a Trino server and its catalog
PostgreSQL started for the measurement (``mesh_dev.local.trino_server``) and stopped after it. Memory: the peak
summed RSS of every platform process tree (webserver, daemon, run workers, dbt) plus Trino's and PostgreSQL's,
and the peak of the whole box's used memory (``total - available``) next to its value before the engine started,
since the machine is shared.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchkit.user_platform import Platform, TreeMemory, free_port, instance_yaml


class BoxMemory:
    """Peak used memory of the whole machine (``total - available``), sampled every 0.25 s."""

    def __init__(self) -> None:
        import psutil

        self.before = psutil.virtual_memory().total - psutil.virtual_memory().available
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            memory = psutil.virtual_memory()
            self.peak = max(self.peak, memory.total - memory.available)
            self._stop.wait(0.25)

    def __enter__(self) -> BoxMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()


def _rows_duckdb(data: Path) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as connection:
        tables = connection.execute("select table_schema, table_name from information_schema.tables "
                                    "where table_schema in ('silver', 'gold') order by 1, 2").fetchall()
        return {f"{s}.{t}": connection.execute(f'select count(*) from "{s}"."{t}"').fetchall()[0][0]
                for s, t in tables}


def _rows_trino(info: Any) -> dict[str, int]:
    import trino

    with trino.dbapi.connect(host=info.host, port=info.port, user="mesh", catalog=info.catalog) as connection:
        cursor = connection.cursor()
        cursor.execute("select table_schema, table_name from information_schema.tables "
                       "where table_schema in ('silver', 'gold') and table_type = 'BASE TABLE' order by 1, 2")
        tables = cursor.fetchall()
        rows = {}
        for schema, table in tables:
            cursor.execute(f'select count(*) from "{schema}"."{table}"')
            rows[f"{schema}.{table}"] = cursor.fetchall()[0][0]
        return rows


def _postgres_pid(info: Any) -> int | None:
    try:
        return int((Path(info.data_dir) / "postgres" / "data" / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def run_engine(engine: str, root: Path, firm: Path, days: list[str]) -> dict[str, Any]:
    """``bronze_sources`` then the full-history ``eod_batch`` on ``engine`` through a fresh platform; its figures."""
    from mesh_dev.local import trino_server

    home = root / engine / "home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(instance_yaml(home))
    env = {**os.environ, "MESH_ENV": "local", "MESH_DATA_DIR": str(root / engine / "data"),
           "MESH_FIRM_DIR": str(firm), "DAGSTER_HOME": str(home), "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    box = BoxMemory()
    engine_pids: list[int] = []
    info = None
    started = time.monotonic()
    with box:
        if engine == "trino":
            (root / "trino-server").mkdir(mode=0o755)
            info = trino_server.start(root / "trino-server", port=free_port(), wait_s=300, stop_at_exit=True)
            env.update(info.environment())
            engine_pids = [pid for pid in (info.pid, _postgres_pid(info)) if pid]
        platform = Platform(home, env)
        try:
            platform.start()
            startup_s = round(time.monotonic() - started, 1)
            sources = platform.run_path("bronze_sources", "bronze_sources", {})
            launched = time.time()
            with TreeMemory([p.pid for p in platform.processes] + engine_pids) as tree:
                run_id = platform.launch_run("eod_batch", {"dagster/asset_partition_range_start": days[0],
                                                           "dagster/asset_partition_range_end": days[-1]})
                platform.wait_runs([run_id], 4 * 3600)
            eod = platform.figures("eod_full_history", launched, [run_id], partitions=len(days))
            rows = _rows_trino(info) if info is not None else _rows_duckdb(root / engine / "data")
        finally:
            platform.stop()
            if info is not None:
                trino_server.stop(root / "trino-server")
    return {
        "engine": engine, "platform_start_s": startup_s,
        "bronze_sources_wall_s": sources["wall_s"], "bronze_sources_statuses": sources["statuses"],
        "eod_full_history": eod, "eod_wall_s": eod["wall_s"], "eod_statuses": eod["statuses"],
        "peak_rss_mib_platform_and_engine": round(tree.peak_total / 2**20),
        "peak_rss_mib_largest_process": round(tree.peak_single / 2**20),
        "box_used_mib_before": round(box.before / 2**20), "box_used_mib_peak": round(box.peak / 2**20),
        "box_used_mib_added": round((box.peak - box.before) / 2**20),
        "rows": rows,
    }


def compare_engines(scale: str, seed: int, engines: tuple[str, ...] = ("duckdb", "trino")) -> dict[str, Any]:
    """The firm of ``scale`` generated once, then :func:`run_engine` for each engine in turn; both and their ratio."""
    import datetime as dt

    from mesh_assets.lib.trading_calendar import trading_days
    from mesh_dev.firm import generate_firm

    root = Path(tempfile.mkdtemp(prefix=f"mesh-eod-engines-{scale}-"))
    root.chmod(0o755)  # as root the catalog's PostgreSQL runs as an unprivileged user, who must reach its folder
    manifest = generate_firm(root / "firm", scale=scale, seed=seed)
    days = [d.isoformat() for d in trading_days(dt.date.fromisoformat(manifest["start_date"]),
                                                 dt.date.fromisoformat(manifest["end_date"]))]
    try:
        results = {}
        for engine in engines:
            try:
                results[engine] = run_engine(engine, root, root / "firm", days)
            except Exception as error:  # the other engine's figures are still printed
                results[engine] = {"engine": engine, "error": f"{type(error).__name__}: {error}"[-2000:]}
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    out: dict[str, Any] = {"scale": scale, "seed": seed, "trading_days": len(days),
                           "portfolios": manifest["counts"]["portfolios"], "engines": results}
    if all("error" not in results.get(engine, {"error": 1}) for engine in ("duckdb", "trino")):
        duck, trino = results["duckdb"], results["trino"]
        if duck["eod_wall_s"] and trino["eod_wall_s"]:
            out["trino_over_duckdb_eod_wall"] = round(trino["eod_wall_s"] / duck["eod_wall_s"], 2)
        out["rows_equal"] = duck["rows"] == trino["rows"]
        out["rows_differ"] = {k: (duck["rows"].get(k), trino["rows"].get(k))
                              for k in set(duck["rows"]) | set(trino["rows"])
                              if duck["rows"].get(k) != trino["rows"].get(k)}
        out["goal"] = {"trino_wall_at_most_x_duckdb": 2.0, "box_peak_mib_below": 8192}
        out["goal_met"] = (out.get("trino_over_duckdb_eod_wall", 99) <= 2.0
                           and trino["box_used_mib_peak"] < 8192
                           and duck["eod_statuses"] == trino["eod_statuses"] == {"SUCCESS": 1})
    return out
