"""The ``cdc`` path of ``benchmarks/user_paths.py``: Aladdin CDC through the daemon at a fixed producer rate.

A real Kafka broker (:mod:`mesh_dev.local.kafka_broker`) is started before the webserver and the daemon,
and the code location reaches it through ``MESH_KAFKA_BOOTSTRAP`` as a user configures it (README, "CDC from
a real Kafka broker"). The CDC topics are created with ``--cdc-partitions`` partitions, the bronze tables
before the clock. Then ``aladdin_cdc_sensor`` is turned on through GraphQL (``startSensor``, the UI's
toggle), the daemon ticks it and launches its runs through the queued run coordinator, and a producer in
its own process sends Debezium trade events (the shape of ``benchmarks/cdc_ingest.py``'s generator) to
``aladdin.trades`` at ``--cdc-rate`` events/s for ``--cdc-minutes``.

Every second the benchmark reads the broker's log-end offsets (what was produced) and the positions
committed in Iceberg's snapshot summaries, as the sensor reads them
(:func:`mesh_assets.bronze.aladdin_cdc.committed_for_topic`): lag in events is produced minus committed;
lag in seconds is, per partition, how long ago the broker first held the oldest record not committed yet
(1 s resolution), the worst partition counting. After the producer stops, the path waits until bronze
has caught up (``--cdc-drain-s`` at most). Baselines from the same run: the ingest steps' own rate
(events per second of ``aladdin_cdc`` step time) and a bare kafka-python read of the whole topic on the
same broker (``benchmarks/cdc_ingest.bare_consume``, a fresh process).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOPIC = "aladdin.trades"
JOB = "aladdin_cdc_microbatch"
SENSOR = "aladdin_cdc_sensor"
LAG_GOAL_S = 30.0
RATE_GOAL = 10_000

START_SENSOR = """mutation($selector: SensorSelector!) { startSensor(sensorSelector: $selector) { __typename
  ... on Sensor { sensorState { status } } ... on PythonError { message } } }"""
SET_SLOTS = """mutation($pool: String!, $limit: Int!) { setConcurrencyLimit(concurrencyKey: $pool, limit: $limit) }"""
STOP_SENSOR = """mutation($selector: SensorSelector!) { resetSensor(sensorSelector: $selector) { __typename } }"""


def add_arguments(parser: Any) -> None:
    """The ``--cdc-*`` options of ``benchmarks/user_paths.py``."""
    parser.add_argument("--cdc-rate", type=int, default=10_000, help="cdc: producer events per second")
    parser.add_argument("--cdc-minutes", type=float, default=5.0, help="cdc: how long the producer runs")
    parser.add_argument("--cdc-partitions", type=int, default=6, help="cdc: partitions of the CDC topics")
    parser.add_argument("--cdc-pool-slots", type=int, default=0, help="cdc: slots of the aladdin_cdc pool (set "
                        "through GraphQL like `dagster instance concurrency set`; 0: as configured)")
    parser.add_argument("--cdc-drain-s", type=float, default=180.0, help="cdc: wait at most this long for bronze "
                        "to catch up after the producer stops")


def start_broker(work: Path) -> str:
    """A fresh local Kafka broker on a free port under ``work``; its bootstrap servers."""
    from mesh_dev.local import kafka_broker

    for attempt in range(3):
        try:
            info = kafka_broker.start(work / "kafka", port=kafka_broker.find_free_port_pair(), wait_s=120,
                                      stop_at_exit=True)
            return info.bootstrap_servers
        except kafka_broker.PortInUseError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def stop_broker(work: Path) -> None:
    """Stop the broker started by :func:`start_broker`."""
    from mesh_dev.local import kafka_broker

    kafka_broker.stop(work / "kafka")


def prepare(bootstrap: str, partitions: int) -> None:
    """The CDC topics on the broker and the bronze tables in the code location's catalog (before the clock)."""
    from mesh_assets.lib.lakehouse import tables
    from mesh_dev.local import cdc_producer

    cdc_producer.ensure_cdc_topics(bootstrap, partitions)
    iceberg = _iceberg()
    for spec in (*tables.CDC_TABLES.values(), tables.DEAD_LETTERS, tables.CDC_SKIPS):
        iceberg.table(spec)


def _iceberg():
    from resources.environment import local_resources

    return local_resources()["iceberg"]


class LagSampler:
    """Every second: the broker's end offsets and Iceberg's committed positions of ``aladdin.trades``."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.samples: list[tuple[float, dict[int, int], dict[int, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from mesh_assets.bronze.aladdin_cdc import committed_for_topic
        from resources.cdc_source import CdcSourceResource

        source = CdcSourceResource(backend="kafka", bootstrap_servers=self.bootstrap)
        iceberg = _iceberg()
        while not self._stop.is_set():
            t0 = time.time()
            ends = dict(source.end_offsets(TOPIC))
            committed = {tp.partition: pos for tp, pos in committed_for_topic(iceberg, TOPIC).items()}
            self.samples.append((t0, ends, committed))
            if len(self.samples) % 15 == 0:
                lag = sum(e - committed.get(p, 0) for p, e in ends.items())
                print(f"cdc: {time.strftime('%H:%M:%S')} produced {sum(ends.values())}, lag {lag} events, "
                      f"load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
            self._stop.wait(max(0.0, 1.0 - (time.time() - t0)))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def last(self) -> tuple[float, dict[int, int], dict[int, int]]:
        while not self.samples:
            time.sleep(0.2)
        return self.samples[-1]

    def lags(self, since: float, until: float) -> tuple[list[int], list[float]]:
        """Lag in events and in seconds of every sample taken in [since, until]."""
        first_seen: dict[int, list[tuple[int, float]]] = {}  # partition -> (end offset, first time seen)
        events, seconds = [], []
        for t, ends, committed in self.samples:
            for p, end in ends.items():
                first_seen.setdefault(p, []).append((end, t))
            if not since <= t <= until:
                continue
            events.append(sum(end - committed.get(p, 0) for p, end in ends.items()))
            worst = 0.0
            for p, end in ends.items():
                position = committed.get(p, 0)
                if end > position:  # the oldest uncommitted record: first sample whose end passed it
                    produced_at = next(ts for e, ts in first_seen[p] if e > position)
                    worst = max(worst, t - produced_at)
            seconds.append(worst)
        return events, seconds


def producer_main(bootstrap: str, rate: int, seconds: float) -> None:
    """Send Debezium trade events to ``aladdin.trades`` at ``rate`` per second for ``seconds`` (own process);
    print what was sent and acknowledged as JSON."""
    sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
    import tempfile

    import cdc_ingest

    from mesh_dev.local import cdc_producer
    from resources.kafka_client import new_producer

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{TOPIC}.jsonl"
        cdc_ingest.synthesize_capture(path, 20_000, 1)
        pool = [(r.key, r.value) for r in cdc_producer.read_capture(path)]
    producer = new_producer(bootstrap, client_id="user-paths-cdc", **cdc_producer.PRODUCER_CONFIG)
    failed: list[BaseException] = []
    sent = 0
    behind_max = 0
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= seconds:
            break
        due = int(elapsed * rate)
        behind_max = max(behind_max, due - sent)
        while sent < due:
            key, value = pool[sent % len(pool)]
            producer.send(TOPIC, key=key, value=value).add_errback(failed.append)
            sent += 1
        time.sleep(0.005)
    producer.flush(timeout=120)
    producer.close()
    wall = time.monotonic() - started
    print(json.dumps({"sent": sent, "failed": len(failed), "seconds": round(wall, 2),
                      "rate": round(sent / wall, 1), "max_behind_schedule_events": behind_max,
                      "first_error": repr(failed[0]) if failed else None}))


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_figures(instance: Any, since: float) -> dict[str, Any]:
    """The CDC runs launched since ``since``: counts, walls, launch latency, summed step time by step."""
    from dagster import RunsFilter

    from mesh_assets.bronze.cdc_range_attempts import run_ranges

    records = instance.get_run_records(filters=RunsFilter(job_name=JOB))
    records = [r for r in records if r.create_timestamp.timestamp() >= since]
    walls, launch, step_sum, by_step, events, statuses = [], [], 0.0, {}, 0, {}
    finished_walls = 0.0
    for record in records:
        status = record.dagster_run.status.value
        statuses[status] = statuses.get(status, 0) + 1
        if record.start_time:
            launch.append(record.start_time - record.create_timestamp.timestamp())
        if not (record.start_time and record.end_time):
            continue
        walls.append(record.end_time - record.start_time)
        finished_walls += walls[-1]
        for step in instance.get_run_step_stats(record.dagster_run.run_id):
            if step.start_time and step.end_time:
                step_sum += step.end_time - step.start_time
                by_step[step.step_key] = by_step.get(step.step_key, 0.0) + step.end_time - step.start_time
        if status == "SUCCESS":  # a shared run carries several ranges: "range,range,..."
            events += sum(len(r) for r in run_ranges(record.dagster_run.tags))
    ingest_s = by_step.get("aladdin_cdc", 0.0)
    return {
        "runs_launched": len(records), "statuses": statuses,
        "run_wall_p50_s": _round(statistics.median(walls)) if walls else None,
        "run_wall_p99_s": _round(_percentile(walls, 99)),
        "launch_to_start_p50_s": _round(statistics.median(launch)) if launch else None,
        "summed_step_s": _round(step_sum), "summed_run_wall_s": _round(finished_walls),
        "run_wall_over_step_ratio": _round(finished_walls / step_sum) if step_sum else None,
        "step_s_by_step": {k: _round(v) for k, v in sorted(by_step.items(), key=lambda kv: -kv[1])[:6]},
        "events_in_successful_runs": events,
        "ingest_step_events_per_s": _round(events / ingest_s) if ingest_s else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def bare_read(bootstrap: str, partitions: int) -> dict:
    """The bare kafka-python read of the whole topic on the same broker, in a fresh process."""
    sys.path[:0] = [str(ROOT / "benchmarks")]
    import cdc_ingest

    return cdc_ingest.bare_consume_fresh(bootstrap, partitions, max_poll_records=20_000, fetch_max_bytes=64 << 20,
                                         max_partition_fetch_bytes=16 << 20, check_crcs=True)


def cdc_path(platform: Any, bootstrap: str, partitions: int, rate: int, minutes: float,
             drain_s: float, pool_slots: int = 0) -> dict[str, Any]:
    """Turn the sensor on, produce at ``rate`` for ``minutes``, sample the lag every second; the figures.
    ``pool_slots``: slots of the ``aladdin_cdc`` pool, set through GraphQL as an operator does (0: as configured)."""
    load_before = list(os.getloadavg())
    if pool_slots:
        platform.client._execute(SET_SLOTS, {"pool": "aladdin_cdc", "limit": pool_slots})
    selector = {"repositoryLocationName": "investment_data_mesh", "repositoryName": "__repository__",
                "sensorName": SENSOR}
    sampler = LagSampler(bootstrap)
    sampler.start()
    began = time.time()
    answer = platform.client._execute(START_SENSOR, {"selector": selector})["startSensor"]
    if answer["__typename"] != "Sensor":
        raise RuntimeError(f"startSensor refused: {answer}")
    producer = subprocess.Popen([sys.executable, __file__, "produce", bootstrap, str(rate), str(minutes * 60)],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
    produce_started = time.time()
    out, _ = producer.communicate(timeout=minutes * 60 + 300)
    produce_ended = time.time()
    produced = json.loads(out.strip().splitlines()[-1])
    load_end_of_producing = list(os.getloadavg())
    drained_at = None
    while time.time() - produce_ended < drain_s:
        _, ends, committed = sampler.last()
        if sampler.samples[-1][0] > produce_ended and all(committed.get(p, 0) >= e for p, e in ends.items()):
            drained_at = sampler.samples[-1][0]
            break
        time.sleep(1)
    platform.client._execute(STOP_SENSOR, {"selector": selector})
    sampler.stop()
    events, seconds = sampler.lags(produce_started, produce_ended)
    committed_at = [(t, sum(c.values())) for t, _, c in sampler.samples]
    in_window = [(t, c) for t, c in committed_at if produce_started <= t <= produce_ended]
    sustained = ((in_window[-1][1] - in_window[0][1]) / (in_window[-1][0] - in_window[0][0])
                 if len(in_window) > 1 else None)
    # Steady state: the second half of the producing window, after the first runs' ramp-up. A constant lag
    # (events waiting for the next micro-batch) costs the whole-window rate ~lag/window although nothing
    # falls behind; the steady rate and the lag's trend say whether bronze keeps up with the producer.
    mid = produce_started + (produce_ended - produce_started) / 2
    second_half = [(t, c) for t, c in in_window if t >= mid]
    steady = ((second_half[-1][1] - second_half[0][1]) / (second_half[-1][0] - second_half[0][0])
              if len(second_half) > 1 else None)
    half_lags = [(t, sum(e - c.get(p, 0) for p, e in ends.items())) for t, ends, c in sampler.samples
                 if mid <= t <= produce_ended]
    lag_trend = ((half_lags[-1][1] - half_lags[0][1]) / (half_lags[-1][0] - half_lags[0][0])
                 if len(half_lags) > 1 else None)
    runs = run_figures(platform.instance, began)
    bare = bare_read(bootstrap, partitions)
    result = {
        "path": "cdc", "partitions": partitions, "aladdin_cdc_pool_slots": pool_slots or "as configured",
        "offered_rate": rate, "minutes": minutes, "producer": produced,
        "sustained_commit_rate_events_per_s": _round(sustained),
        "steady_commit_rate_events_per_s": _round(steady),
        "lag_trend_events_per_s_second_half": _round(lag_trend),
        "lag_events": {"p50": _percentile(events, 50), "p99": _percentile(events, 99),
                       "max": max(events, default=None)},
        "lag_s": {"p50": _round(_percentile(seconds, 50)), "p99": _round(_percentile(seconds, 99)),
                  "max": _round(max(seconds, default=None))},
        "samples": len(events),
        "drained_after_producer_s": _round(drained_at - produce_ended) if drained_at else None,
        "final_lag_events": sum(e - sampler.samples[-1][2].get(p, 0) for p, e in sampler.samples[-1][1].items()),
        **runs,
        "bare_kafka_python_read_events_per_s": bare["records_per_s"],
        "ingest_step_over_bare_ratio": (_round(runs["ingest_step_events_per_s"] / bare["records_per_s"])
                                        if runs["ingest_step_events_per_s"] else None),
        "sustained_over_offered_ratio": _round(sustained / produced["rate"]) if sustained else None,
        "steady_over_offered_ratio": _round(steady / produced["rate"]) if steady else None,
        "goals": {"rate_events_per_s": RATE_GOAL, "lag_p99_s": LAG_GOAL_S,
                  "met": bool(steady and rate >= RATE_GOAL and steady >= 0.98 * produced["rate"]
                              and (_percentile(seconds, 99) or 0) <= LAG_GOAL_S)},
        "settings": {k: v for k, v in os.environ.items() if k.startswith("MESH_CDC")},
        "load_avg_before": load_before, "load_avg_end_of_producing": load_end_of_producing,
        "load_avg": list(os.getloadavg()),
    }
    return result


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "produce":
    producer_main(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
