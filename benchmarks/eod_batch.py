"""Benchmark: the full end-of-day graph (bronze deliveries -> silver -> gold, with every check).

Run by hand (not in CI): `uv run python benchmarks/eod_batch.py [--scales small,medium,large] [--engine trino]`.

``--engine trino`` (issue 21) measures instead the path users run, on both warehouse engines in the same run
(``benchkit/eod_engines.py``): per scale one firm, then for DuckDB (``MESH_ENV=local``) and for Trino
(``MESH_ENV=cluster``, a Trino server and its catalog PostgreSQL started for it) a fresh webserver and daemon,
``bronze_sources`` and the full-history ``eod_batch`` run launched through GraphQL and the run launcher; wall times,
their ratio (goal: Trino <= 2x DuckDB), peak RSS of the platform's processes with Trino's and PostgreSQL's, the
whole box's peak used memory (goal < 8 GiB) and each engine's rows per silver/gold table (equal expected).

Without it (``--engine duckdb``, the default):
Each scale runs in its own process against a fresh temporary data folder: generate the firm (timed
separately), load the bronze sources (CDC, reference, Salesforce), then one `eod_batch` run over the
firm's whole history (a single-run backfill). Prints JSON: wall time per layer (from Dagster's step
statistics), the slowest dbt models, rows per table, peak RSS of the Dagster process and of its
largest child (the dbt process, where DuckDB does the work). Goal (issue 4): large under 5 minutes
with peak RSS under 4 GiB on 2 cores.
"""

import json
import os
import resource
import tempfile
import time
from pathlib import Path

import per_scale

GOAL_WALL_S = 300
GOAL_RSS_MIB = 4096


def _layer(step_key: str, bronze_steps: set[str]) -> str:
    """The layer a step of the eod_batch run belongs to."""
    if step_key == "silver_gold_tables":
        return "silver_dbt"
    if step_key == "gold_daily":
        return "gold_dbt"
    if step_key in bronze_steps:
        return "bronze"
    return "bronze_checks" if step_key.startswith("bronze__") else "silver_gold_python_checks"


def run_scale(scale: str, seed: int, engine: str = "duckdb") -> dict:
    """Generate the firm, load bronze sources, run eod_batch over all days; return the figures. With ``engine``
    ``trino``: both engines through the run launcher (:func:`benchkit.eod_engines.compare_engines`)."""
    import datetime as dt

    if engine == "trino":
        from benchkit.eod_engines import compare_engines

        return compare_engines(scale, seed)
    if engine != "duckdb":
        raise SystemExit(f"--engine {engine}: choose duckdb or trino")

    with tempfile.TemporaryDirectory(prefix=f"mesh-eod-{scale}-") as tmp:
        tmp_path = Path(tmp)
        os.environ.update({"MESH_ENV": "local", "MESH_DATA_DIR": str(tmp_path / "data"),
                           "MESH_FIRM_DIR": str(tmp_path / "firm"), "DAGSTER_HOME": str(tmp_path / "home"),
                           "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"})
        (tmp_path / "home").mkdir()
        from mesh_dev.firm import generate_firm

        t0 = time.perf_counter()
        manifest = generate_firm(tmp_path / "firm", scale=scale, seed=seed)
        generate_s = time.perf_counter() - t0

        from dagster import DagsterInstance
        from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

        from mesh_assets.definitions import build_definitions
        from mesh_assets.lib.trading_calendar import trading_days

        days = trading_days(dt.date.fromisoformat(manifest["start_date"]), dt.date.fromisoformat(manifest["end_date"]))
        defs = build_definitions()
        quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
        with DagsterInstance.ephemeral() as instance:
            t1 = time.perf_counter()
            defs.resolve_job_def("bronze_sources").execute_in_process(instance=instance, run_config=quiet)
            sources_s = time.perf_counter() - t1
            t2 = time.perf_counter()
            eod = defs.resolve_job_def("eod_batch").execute_in_process(
                instance=instance, run_config=quiet, raise_on_error=False,
                tags={ASSET_PARTITION_RANGE_START_TAG: days[0].isoformat(),
                      ASSET_PARTITION_RANGE_END_TAG: days[-1].isoformat()})
            eod_s = time.perf_counter() - t2
            layers: dict[str, float] = {}
            bronze_steps = {k.to_python_identifier() for k in defs.resolve_asset_graph().get_all_asset_keys()
                            if k.path[0] == "bronze"}
            steps = {}
            for stat in instance.get_run_step_stats(eod.run_id):
                seconds = (stat.end_time or 0) - (stat.start_time or 0)
                steps[stat.step_key] = round(seconds, 2)
                layer = _layer(stat.step_key, bronze_steps)
                layers[layer] = round(layers.get(layer, 0) + seconds, 2)
            models = {}
            for event in eod.get_asset_materialization_events():
                duration = event.materialization.metadata.get("Execution Duration")
                if duration is not None:
                    models[event.asset_key.to_user_string()] = round(float(duration.value), 2)
            failed_checks = [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in eod.get_asset_check_evaluations()
                             if not e.passed and e.severity.value == "ERROR"]
            warned = [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in eod.get_asset_check_evaluations()
                      if not e.passed and e.severity.value == "WARN"]
        import duckdb

        with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as connection:
            tables = connection.execute("select table_schema, table_name from information_schema.tables "
                                        "where table_schema in ('silver', 'gold') order by 1, 2").fetchall()
            rows = {f"{s}.{t}": connection.execute(f'select count(*) from "{s}"."{t}"').fetchall()[0][0]
                    for s, t in tables}
        self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        peak = max(self_rss, child_rss)
        return {
            "scale": scale, "seed": seed, "trading_days": manifest["trading_days"],
            "portfolios": manifest["counts"]["portfolios"], "securities": manifest["counts"]["securities"],
            "generate_wall_s": round(generate_s, 2),
            "bronze_sources_wall_s": round(sources_s, 2),
            "eod_batch_wall_s": round(eod_s, 2),
            "eod_total_wall_s": round(sources_s + eod_s, 2),
            "eod_success": eod.success,
            "wall_s_by_layer": layers,
            "slowest_steps": dict(sorted(steps.items(), key=lambda kv: -kv[1])[:8]),
            "dbt_model_seconds_first_partition": dict(sorted(models.items(), key=lambda kv: -kv[1])[:8]),
            "rows": rows,
            "checks_failed": failed_checks,
            "checks_warned": warned,
            "peak_rss_dagster_mib": round(self_rss),
            "peak_rss_largest_child_mib": round(child_rss),
            "goal_wall_s": GOAL_WALL_S, "goal_rss_mib": GOAL_RSS_MIB,
            "goal_met": (sources_s + eod_s) < GOAL_WALL_S and peak < GOAL_RSS_MIB,
        }


def main() -> None:
    args, results = per_scale.main(__file__, __doc__, run_scale, options={
        "engine": ("duckdb", "duckdb: the graph in process (layers, models); trino: DuckDB and Trino side by side "
                             "through the run launcher")})
    print(json.dumps({"benchmark": "eod_batch", "engine": args.engine, "cpu_count": os.cpu_count(),
                      "scales": results}, indent=2))


if __name__ == "__main__":
    main()
