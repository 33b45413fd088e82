"""Benchmark: how long a fresh process takes to load the code location, against `import dagster`.

Run by hand (not in CI): `uv run python benchmarks/definitions_load.py [--repeats 5]`.
Every figure is the median wall time of ``--repeats`` fresh Python processes, all measured in the same
run and interleaved (so machine drift hits each variant alike):

- ``import_dagster``: ``import dagster``, the floor every Dagster process pays;
- ``definitions``: ``import mesh_assets.definitions`` (what the webserver, the daemon and every run
  process load), dbt assets built from ``manifest.json`` without dagster-dbt;
- ``definitions_with_dagster_dbt``: the same with ``dagster_dbt`` imported at load, the cost the
  ``DbtProject`` + ``@dbt_assets`` pattern adds (its decorator lives in dagster-dbt);
- ``definitions_with_dbt_assets``: the definitions plus the same dbt assets built by ``@dbt_assets``
  and the project's translator (tests/support/dbt_reference_assets.py), the full cost of switching.

Issue 20 item 4's rule: switch to ``@dbt_assets`` only if the definitions still load in under 1.6x
``import dagster``. Prints JSON with the medians and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 1.6

VARIANTS = {
    "import_dagster": "import dagster",
    "definitions": "import mesh_assets.definitions",
    "definitions_with_dagster_dbt": "import dagster_dbt, mesh_assets.definitions",
    "definitions_with_dbt_assets": (
        "import mesh_assets.definitions; from tests.support.dbt_reference_assets import reference_dbt_assets; "
        "reference_dbt_assets()"
    ),
}


def _time(code: str, env: dict[str, str]) -> float:
    """Wall seconds of one fresh ``python -c code`` (fails loudly if the code fails)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    """Measure every variant ``--repeats`` times, interleaved, and print the medians as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mesh-defs-load-") as home:
        env = {**os.environ, "DAGSTER_HOME": home, "MESH_ENV": "local", "PYTHONPATH": str(ROOT),
               "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
        for code in VARIANTS.values():  # warm the file cache and .pyc files once, untimed
            _time(code, env)
        samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(args.repeats):
            for name, code in VARIANTS.items():
                samples[name].append(_time(code, env))
    medians = {name: round(statistics.median(values), 3) for name, values in samples.items()}
    base = medians["import_dagster"]
    print(json.dumps({
        "repeats": args.repeats,
        "median_s": medians,
        "ratio_to_import_dagster": {name: round(value / base, 2) for name, value in medians.items()},
        "threshold_ratio": THRESHOLD,
        "dbt_assets_under_threshold": medians["definitions_with_dbt_assets"] / base < THRESHOLD,
        "samples_s": {name: [round(v, 3) for v in values] for name, values in samples.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
