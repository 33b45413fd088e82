"""The real trade worker (``python -m trade_worker``) as the benchmark's subprocess: started, watched through its
health file, stopped with SIGTERM; and the rows of its hot table."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchkit import ROOT
from benchkit.process_stats import process_peak_rss_mb


class Worker:
    """The real worker as a subprocess, with its health file."""

    def __init__(self, work: Path, bootstrap: str, prefix: str, warehouse: Path, profile: Path | None = None) -> None:
        self.health = work / "health.json"
        self.log = (work / "worker.log").open("ab")
        options = ["--bootstrap", bootstrap, "--topic-prefix", prefix, "--warehouse", str(warehouse),
                   "--health-file", str(self.health), "--log-level", "WARNING"]
        self.args = [sys.executable, "-m", "trade_worker", *options]
        if profile is not None:  # cProfile of the hot (main) thread, one .prof per start
            self.args = [sys.executable, "-c", "import cProfile, os, runpy, sys; sys.argv = ['cli', *sys.argv[1:]]; "
                         f"cProfile.run('runpy.run_module(\"trade_worker\", run_name=\"__main__\")', "
                         f"'{profile}.' + str(os.getpid()))", *options]
        self.env = {**os.environ, "MESH_ENV": "local", "MESH_DATA_DIR": str(work / "data"),  # a single broker:
                    "MESH_KAFKA_REPLICATION_FACTOR": "1", "MESH_KAFKA_MIN_INSYNC_REPLICAS": "1"}
        self.process: subprocess.Popen | None = None
        self.peak_rss_mb = 0.0

    def start(self, timeout_s: float = 120) -> float:
        """Start and wait until ready; return seconds to ready."""
        self.health.unlink(missing_ok=True)
        started = time.monotonic()
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log)
        while time.monotonic() - started < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}; see {self.log.name}")
            try:
                if json.loads(self.health.read_text()).get("ready"):
                    return time.monotonic() - started
            except (FileNotFoundError, json.JSONDecodeError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"worker not ready after {timeout_s} s; see {self.log.name}")

    def sample_rss(self) -> None:
        """Record the worker's peak resident set (VmHWM) so far."""
        with contextlib.suppress(OSError, AttributeError):  # not started yet, or already gone
            self.peak_rss_mb = max(self.peak_rss_mb, process_peak_rss_mb(self.process.pid) or 0.0)

    def wait_caught_up(self, produced: int, key: str, timeout_s: float) -> bool:
        """Wait until the health file's ``key`` offsets (consumed or committed) sum to ``produced``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if sum(json.loads(self.health.read_text()).get(key, {}).values()) >= produced:
                    return True
            except (FileNotFoundError, json.JSONDecodeError):
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> int:
        """SIGTERM and wait (graceful: flush, commit, exit 0)."""
        self.sample_rss()
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)


def hot_table_rows(work: Path) -> int:
    """Rows in the worker's hot table (its current snapshot's summary)."""
    from pyiceberg.catalog.sql import SqlCatalog

    data = work / "data" / "lakehouse"
    catalog = SqlCatalog("mesh", uri=f"sqlite:///{data}/catalog.db", warehouse=f"file://{data}/warehouse")
    snapshot = catalog.load_table("stream.trades_enriched").current_snapshot()
    return int(snapshot.summary.additional_properties.get("total-records", 0)) if snapshot else 0

