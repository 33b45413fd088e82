"""Benchmark: generate the synthetic firm and load bronze, at small, medium and large scale.

Run by hand (not in CI): `uv run python benchmarks/generate_and_bronze.py [--scales small,medium,large]`.
Each scale runs in its own process (so peak RSS is that scale's) against a fresh temporary data folder
and Dagster instance. Prints one JSON document: wall time per stage, rows per bronze table, peak RSS,
and the cold import time of the Definitions (goal < 3 s).
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import per_scale

ROOT = Path(__file__).resolve().parents[1]


def cold_import_seconds(repeats: int = 3) -> list[float]:
    """Seconds to import mesh_assets.definitions in a fresh interpreter, several times."""
    code = "import time; t = time.perf_counter(); import mesh_assets.definitions; print(time.perf_counter() - t)"
    return [round(float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                       check=True).stdout.strip().splitlines()[-1]), 3) for _ in range(repeats)]


def run_scale(scale: str, seed: int) -> dict:
    """Generate and load one scale in this process; return its figures."""
    import datetime as dt

    with tempfile.TemporaryDirectory(prefix=f"mesh-bench-{scale}-") as tmp:
        tmp_path = Path(tmp)
        os.environ.update({"MESH_ENV": "local", "MESH_DATA_DIR": str(tmp_path / "data"),
                           "MESH_FIRM_DIR": str(tmp_path / "firm"), "DAGSTER_HOME": str(tmp_path / "home")})
        (tmp_path / "home").mkdir()
        from mesh_dev.firm import generate_firm

        t0 = time.perf_counter()
        manifest = generate_firm(tmp_path / "firm", scale=scale, seed=seed)
        generate_s = time.perf_counter() - t0
        rss_after_generate = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        from dagster import DagsterInstance

        from mesh_assets.lib.lakehouse import tables
        from mesh_assets.lib.trading_calendar import trading_days
        from mesh_dev.demo import run_bronze

        days = trading_days(dt.date.fromisoformat(manifest["start_date"]), dt.date.fromisoformat(manifest["end_date"]))
        instance = DagsterInstance.ephemeral()
        t1 = time.perf_counter()
        report = run_bronze(days[0].isoformat(), days[-1].isoformat(), instance)
        bronze_s = time.perf_counter() - t1

        from resources.environment import local_resources

        iceberg = local_resources()["iceberg"]
        specs = [tables.TRADES, tables.CASH_FLOWS, tables.DEAD_LETTERS, tables.PRICES, tables.BENCHMARKS]
        rows = {s.identifier: iceberg.table(s).scan(selected_fields=(s.column_names[0],)).to_arrow().num_rows
                for s in specs}
        events = manifest["counts"]["trade_records"] + manifest["counts"]["cash_flow_records"]
        return {
            "scale": scale,
            "seed": seed,
            "trading_days": manifest["trading_days"],
            "portfolios": manifest["counts"]["portfolios"],
            "generate_wall_s": round(generate_s, 2),
            "bronze_wall_s": round(bronze_s, 2),
            "total_wall_s": round(generate_s + bronze_s, 2),
            "cdc_events": events,
            "bronze_rows_per_s": round(sum(rows.values()) / bronze_s),
            "rows": rows,
            "source_counts": manifest["counts"],
            "checks_passed": len(report.checks_passed),
            "checks_failed": [name for name, severity, _ in report.checks_failed if severity == "ERROR"],
            "checks_warned": [name for name, severity, _ in report.checks_failed if severity == "WARN"],
            "peak_rss_generate_mib": round(rss_after_generate),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }


def main() -> None:
    _, results = per_scale.main(__file__, __doc__, run_scale)
    imports = cold_import_seconds()
    print(json.dumps({"benchmark": "generate_and_bronze", "cpu_count": os.cpu_count(),
                      "definitions_cold_import_s": imports, "definitions_import_goal_s": 3.0,
                      "definitions_import_goal_met": max(imports) < 3.0, "scales": results}, indent=2))


if __name__ == "__main__":
    main()
