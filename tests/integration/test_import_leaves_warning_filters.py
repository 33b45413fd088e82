"""Loading the code location changes no process-wide state: no warning filter is added, and the preview and
beta labels it silences (partitioned asset checks, single-run backfills) are silenced where they are raised."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

PROBE = """
import json, warnings
before = list(warnings.filters)
from mesh_assets.definitions import build_definitions
build_definitions()
print(json.dumps([repr(f) for f in warnings.filters if f not in before]))
"""


def test_loading_the_definitions_adds_no_warning_filter_and_prints_no_silenced_label() -> None:
    # -W default: every warning raised outside a scoped filter would be printed once to stderr.
    done = subprocess.run([sys.executable, "-W", "default", "-c", PROBE], capture_output=True, text=True,
                          timeout=300, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
    for label in ("Specifying a partitions_def on an AssetCheckSpec", "backfill_policy"):
        assert label not in done.stderr, done.stderr
