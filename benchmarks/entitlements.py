"""Benchmark: a Salesforce contract change to the ADX data grant applied, end to end on the embedded default.

Run by hand (not in CI): ``uv run python benchmarks/entitlements.py [--changes 1000] [--rate 10]``.

In one temporary folder: the small synthetic firm, the local Salesforce-compatible server (HTTPS, seeded
from the firm), the local ADX exchange and the Iceberg/DuckDB lakehouse. Bronze reference and Salesforce
data and the dbt seeds are loaded first. Then, at the same time:

- a **producer** thread makes ``--changes`` contract changes at ``--rate`` per second through
  simple-salesforce (80% new Activated contracts on the firm's accounts, 20% terminations of contracts it
  activated earlier), noting the time each change was acknowledged;
- the **daemon loop** (this thread) evaluates ``salesforce_contract_sensor`` every ``--interval`` seconds
  (production's ``MESH_CONTRACT_SENSOR_INTERVAL_S``, 15 s) and executes each requested
  ``entitlement_reconcile`` run in process (the bronze copies of its change window, dbt for the three
  models, then the reconcile), one at a time
  like the ``entitlement_grants`` pool;
- a **watcher** thread polls the exchange's grants every 100 ms and records when each created contract's
  grant appears and each terminated contract's grant disappears.

Latency = the watcher's time minus the producer's acknowledgement time. Prints one JSON document: changes,
applied, latency p50/p90/p99/max, ticks, runs and their durations, wall time, peak RSS. Goal (issue):
p99 under 60 s (the promise to clients is under 2 minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))], 3)


class Producer(threading.Thread):
    """Makes contract changes at a fixed rate and records when each was acknowledged."""

    def __init__(self, salesforce, accounts: list[str], changes: int, rate: float, seed: int = 7) -> None:
        super().__init__(name="producer", daemon=True)
        self.salesforce, self.accounts, self.changes, self.rate = salesforce, accounts, changes, rate
        self.rng = random.Random(seed)
        self.events: list[tuple[str, str, float]] = []  # (contract, grant|revoke, acknowledged at)
        self.active: list[str] = []
        self.errors: list[str] = []

    def run(self) -> None:
        today = dt.date.today()
        started = time.monotonic()
        for i in range(self.changes):
            time.sleep(max(0.0, started + i / self.rate - time.monotonic()))
            try:
                if self.active and self.rng.random() < 0.2:
                    contract = self.active.pop(self.rng.randrange(len(self.active)))
                    self.salesforce.update("Contract", contract, {"Status": "Terminated"})
                    self.events.append((contract, "revoke", time.monotonic()))
                else:
                    contract = self.salesforce.create("Contract", {
                        "AccountId": self.rng.choice(self.accounts),
                        "Data_Product__c": self.rng.choice(("nav_history", "performance", "prices", "esg")),
                        "Status": "Activated", "StartDate": (today - dt.timedelta(days=1)).isoformat(),
                        "EndDate": (today + dt.timedelta(days=365)).isoformat(), "ADX_Provisioned__c": False,
                    })
                    self.events.append((contract, "grant", time.monotonic()))
                    self.active.append(contract)
            except Exception as error:
                self.errors.append(f"change {i}: {type(error).__name__}: {error}"[:300])


class Watcher(threading.Thread):
    """Polls the exchange's grants: when each contract's grant first appeared, and when it was gone again."""

    def __init__(self, exchange, poll_s: float = 0.1) -> None:
        super().__init__(name="watcher", daemon=True)
        self.exchange, self.poll_s = exchange, poll_s
        self.appeared: dict[str, float] = {}
        self.gone: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        from mesh_assets.entitlements.grants import parse_grant_name

        while not self.stop.is_set():
            live = {parsed[0] for g in self.exchange.list_grants() if (parsed := parse_grant_name(g.name))}
            now = time.monotonic()
            for contract in live:
                self.appeared.setdefault(contract, now)
            for contract in self.appeared.keys() - live:
                self.gone.setdefault(contract, now)
            time.sleep(self.poll_s)

    def latency(self, contract: str, kind: str, acknowledged: float) -> float | None:
        """Seconds from the change to its grant applied (created, or gone after the termination); None while not
        applied, or for a contract terminated before its grant ever existed (nothing to grant or revoke)."""
        if kind == "grant":
            return self.appeared[contract] - acknowledged if contract in self.appeared else None
        if contract in self.gone and self.gone[contract] >= acknowledged:
            return self.gone[contract] - acknowledged
        return None

    def settled(self, events: list[tuple[str, str, float]]) -> bool:
        """Every change applied (a revoke of a never-granted contract counts once its grant cannot appear)."""
        for contract, kind, _at in events:
            if kind == "grant" and contract not in self.appeared and not any(
                    c == contract and k == "revoke" for c, k, _ in events):
                return False
            if kind == "revoke" and contract in self.appeared and contract not in self.gone:
                return False
        return True


def setup(work: Path, seed: int):
    """The firm, the Salesforce server, the environment, the definitions, and bronze + seeds loaded."""
    from dagster import AssetKey, Definitions, define_asset_job

    from mesh_assets.definitions import build_definitions
    from mesh_dev.firm import generate_firm
    from mesh_dev.local.salesforce_server.runner import start_server

    firm = work / "firm"
    generate_firm(firm, scale="small", seed=seed)
    server = start_server(work / "salesforce", export_dir=firm / "salesforce")
    os.environ.update({"MESH_ENV": "local", "MESH_DATA_DIR": str(work / "data"), "MESH_FIRM_DIR": str(firm),
                       **server.client_environment()})
    defs = build_definitions()
    keys = [AssetKey(["bronze", "reference", "clients"]), AssetKey(["bronze", "salesforce", "accounts"]),
            AssetKey(["bronze", "salesforce", "contracts"]), AssetKey(["silver", "reference", "data_products"]),
            AssetKey(["silver", "reference", "clients"])]
    defs = Definitions.merge(defs, Definitions(jobs=[define_asset_job("bench_setup", selection=keys)]))
    return server, defs


def main() -> None:
    """Run the benchmark; dbt's console output goes to stderr so stdout is the JSON document only."""
    import contextlib

    with contextlib.redirect_stdout(sys.stderr):
        report = measure()
    print(json.dumps(report, indent=2))


def measure() -> dict:
    """Set up, run the producer, daemon loop and watcher, and return the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="contract changes per second")
    parser.add_argument("--interval", type=float, default=None,
                        help="sensor interval, s [default: production's, salesforce_contract_sensor]")
    parser.add_argument("--drain-s", type=float, default=300.0, help="time allowed after the last change")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    work = Path(tempfile.mkdtemp(prefix="mesh-bench-entitlements-"))
    began = time.perf_counter()
    server, defs = setup(work, args.seed)
    from dagster import build_sensor_context, instance_for_test

    from resources.salesforce import SalesforceResource
    from sensors.salesforce_contract_sensor import salesforce_contract_sensor, sensor_interval_seconds

    interval = args.interval if args.interval is not None else float(sensor_interval_seconds())
    salesforce = SalesforceResource(backend="api", login_url=server.url, ca_bundle=str(server.ca_pem_path),
                                    username=server.credentials.username, password=server.credentials.password,
                                    security_token=server.credentials.security_token)
    report: dict = {"changes": args.changes, "rate_per_s": args.rate, "sensor_interval_s": interval,
                    "cpu_count": os.cpu_count(), "work": str(work)}
    (work / "dagster_home").mkdir()
    with instance_for_test(temp_dir=str(work / "dagster_home")) as instance:
        t0 = time.perf_counter()
        assert defs.resolve_job_def("bench_setup").execute_in_process(instance=instance, run_config=QUIET).success
        report["setup_s"] = round(time.perf_counter() - t0, 2)
        # the firm's own contracts first, so the measured changes start from a reconciled state
        cursor = None
        context = build_sensor_context(instance=instance, cursor=cursor, resources={
            "salesforce": salesforce, "iceberg": defs.resources["iceberg"]})
        result = salesforce_contract_sensor(context)
        cursor = result.cursor
        job = defs.resolve_job_def("entitlement_reconcile")
        for request in result.run_requests:
            assert job.execute_in_process(instance=instance, run_config={**QUIET, **request.run_config},
                                          tags=request.tags, asset_selection=request.asset_selection).success

        accounts = [a["Id"] for a in salesforce.records("Account", ["Id"])]
        producer = Producer(salesforce, accounts, args.changes, args.rate, args.seed)
        watcher = Watcher(defs.resources["adx"].exchange())
        ticks, runs, run_seconds, failed_runs, steps = 0, 0, [], 0, {}
        t_start = time.perf_counter()
        producer.start()
        watcher.start()
        deadline = None
        next_tick = time.monotonic()
        while True:
            time.sleep(max(0.0, next_tick - time.monotonic()))
            next_tick = time.monotonic() + interval
            context = build_sensor_context(instance=instance, cursor=cursor, resources={
                "salesforce": salesforce, "iceberg": defs.resources["iceberg"]})
            result = salesforce_contract_sensor(context)
            cursor = result.cursor
            ticks += 1
            for request in result.run_requests or []:
                t0 = time.perf_counter()
                outcome = job.execute_in_process(instance=instance, run_config={**QUIET, **request.run_config},
                                                 tags=request.tags, asset_selection=request.asset_selection,
                                                 raise_on_error=False)
                run_seconds.append(time.perf_counter() - t0)
                for event in outcome.all_events:
                    if event.event_type_value == "STEP_SUCCESS":
                        steps.setdefault(event.step_key, []).append(event.event_specific_data.duration_ms / 1000)
                runs += 1
                failed_runs += 0 if outcome.success else 1
            done = not producer.is_alive() and watcher.settled(producer.events)
            if not producer.is_alive() and deadline is None:
                deadline = time.monotonic() + args.drain_s
            if done or (deadline is not None and time.monotonic() > deadline):
                break
        time.sleep(0.3)
        watcher.stop.set()
        watcher.join()
        wall = time.perf_counter() - t_start
    server.stop()

    measured = [(kind, watcher.latency(contract, kind, at)) for contract, kind, at in producer.events]
    latencies = [latency for _, latency in measured if latency is not None]
    by_kind = {kind: [lat for k, lat in measured if k == kind and lat is not None] for kind in ("grant", "revoke")}
    never_granted = sum(1 for c, k, _ in producer.events if k == "revoke" and c not in watcher.appeared)
    report.update({
        "changes_made": len(producer.events),
        "producer_errors": producer.errors[:5],
        "applied": len(latencies),
        "terminated_before_granted": never_granted,
        "not_applied": len(producer.events) - len(latencies) - 2 * never_granted,
        "latency_s": {"p50": percentile(latencies, 50), "p90": percentile(latencies, 90),
                      "p99": percentile(latencies, 99), "max": round(max(latencies), 3) if latencies else None,
                      "mean": round(statistics.fmean(latencies), 3) if latencies else None},
        "latency_p99_s_by_kind": {k: percentile(v, 99) for k, v in by_kind.items()},
        "applied_by_kind": {k: len(v) for k, v in by_kind.items()},
        "sensor_ticks": ticks,
        "reconcile_runs": runs,
        "failed_runs": failed_runs,
        "run_s": {"p50": percentile(run_seconds, 50), "max": round(max(run_seconds), 2) if run_seconds else None},
        "step_s_p50": {k: percentile(v, 50) for k, v in steps.items()},
        "wall_s": round(wall, 2),
        "total_s": round(time.perf_counter() - began, 2),
        "peak_rss_mb": peak_rss_mb(),
    })
    report["goal_p99_under_60_s"] = bool(latencies) and report["latency_s"]["p99"] < 60 and not report["not_applied"]
    return report


if __name__ == "__main__":
    main()
