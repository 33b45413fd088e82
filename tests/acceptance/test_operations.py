"""Operations: with the CDC sensor on and a producer writing to the real broker, a CDC run whose process is
killed with SIGKILL is recovered without a person: its pool slot is freed, its range is requested again, and
the Iceberg tables (which decide) hold every record once, none lost, none twice."""

import os
import signal
import threading
import time
from collections import Counter

import pytest

from tests.acceptance.graphql import repository, wait_for

# the first test of the session also waits for the shared world (tests/acceptance/conftest.py)
pytestmark = [pytest.mark.integration, pytest.mark.acceptance, pytest.mark.timeout(1800)]

JOB = "aladdin_cdc_microbatch"
SENSOR = "aladdin_cdc_sensor"
POOL = "aladdin_cdc"
TOPIC = "aladdin.trades"
PARTITION = 0  # the producer writes one partition: one run at a time (one in flight per topic-partition)
RATE = 40  # records per second, for as long as the test needs runs to find new records

START = """mutation($selector: SensorSelector!) { startSensor(sensorSelector: $selector) { __typename
  ... on Sensor { sensorState { status } } ... on PythonError { message } } }"""
STOP = """mutation($selector: SensorSelector!) { resetSensor(sensorSelector: $selector) { __typename } }"""
SLOTS = """query($pool: String!) { instance { concurrencyLimit(concurrencyKey: $pool) {
  slotCount claimedSlots { runId stepKey } } } }"""


class Producer(threading.Thread):
    """Sends the capture's records of one partition to the broker again and again, at ``RATE``, until stopped;
    keeps the offset the broker acknowledged for each, and whether it was a tombstone."""

    def __init__(self, bootstrap: str, topic: str, records: list) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.records = bootstrap, topic, records
        self.acked: dict[int, bool] = {}  # offset -> tombstone?
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from kafka import KafkaProducer

        from mesh_dev.local.cdc_producer import PRODUCER_CONFIG

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, client_id="acceptance-producer", **PRODUCER_CONFIG)
        try:
            sent = 0
            while not self.stop.is_set():
                record = self.records[sent % len(self.records)]
                metadata = producer.send(self.topic, key=record.key, value=record.value,
                                         partition=PARTITION).get(timeout=30)
                self.acked[metadata.offset] = record.value is None
                sent += 1
                time.sleep(1 / RATE)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            producer.close()


def _run_worker_pid(gql, run_id: str) -> int | None:
    for event in gql.events(run_id):
        if event["__typename"] == "EngineEvent" and event["message"].startswith("Started process for run"):
            return int(event["message"].split("pid: ")[1].split(")")[0])
    return None


def _ingest_started(gql, run_id: str) -> bool:
    return any(e["__typename"] == "ExecutionStepStartEvent" and e.get("stepKey") == "aladdin_cdc"
               for e in gql.events(run_id))


def _source_positions(mesh) -> Counter:
    """(topic, partition, offset) of every row in bronze trades, cash flows and dead letters."""
    from pyiceberg.catalog.sql import SqlCatalog

    lakehouse = mesh["data"] / "lakehouse"  # the local catalog (resources/environment.py), named "mesh"
    catalog = SqlCatalog("mesh", uri=f"sqlite:///{lakehouse / 'catalog.db'}",
                         warehouse=f"file://{lakehouse / 'warehouse'}")
    seen: Counter = Counter()
    for table in ("bronze.aladdin_trades", "bronze.aladdin_cash_flows", "bronze.aladdin_dead_letters"):
        rows = catalog.load_table(table).scan(
            selected_fields=("source_topic", "source_partition", "source_offset")).to_arrow()
        seen.update(zip(rows["source_topic"].to_pylist(), rows["source_partition"].to_pylist(),
                        rows["source_offset"].to_pylist(), strict=True))
    return seen


def test_a_killed_cdc_run_is_recovered_without_a_person(mesh):
    from mesh_dev.local import cdc_producer

    gql, broker_topic = mesh["gql"], mesh["prefix"] + TOPIC
    topic = TOPIC  # bronze rows name the contract's topic; the broker's carries the world's prefix
    capture = list(cdc_producer.read_capture(cdc_producer.capture_path(cdc_producer.capture_dir(mesh["firm"]),
                                                                       TOPIC)))
    before = {r.offset: r.value is None for r in capture if r.partition == PARTITION}
    producer = Producer(mesh["bootstrap"], broker_topic, [r for r in capture if r.partition == PARTITION])
    selector = {**repository(), "sensorName": SENSOR}
    started = gql(START, selector=selector)["startSensor"]
    assert started["__typename"] == "Sensor" and started["sensorState"]["status"] == "RUNNING", started
    producer.start()
    try:
        # the first CDC run whose ingest step has started: kill its run worker outright
        def ingesting():
            return next((r for r in gql.runs(job=JOB) if r["status"] == "STARTED" and _ingest_started(gql, r["runId"])),
                        None)

        victim = wait_for(ingesting, 300, "a CDC run to start ingesting", interval=1)
        pid = _run_worker_pid(gql, victim["runId"])
        assert pid, "no run worker pid in the run's events"
        os.kill(pid, signal.SIGKILL)
        killed = gql.wait(victim["runId"], timeout=180)
        assert killed["status"] == "FAILURE"

        # the pool slot the dead run held is freed by the daemon's run monitoring (not by hand)
        def slot_freed():
            limit = gql(SLOTS, pool=POOL)["instance"]["concurrencyLimit"]
            return all(slot["runId"] != victim["runId"] for slot in limit["claimedSlots"])

        wait_for(slot_freed, 120, f"the {POOL} slot of killed run {victim['runId']} to be freed", interval=2)

        # its ranges are requested again: a retry of the crashed run, or the sensor's `#retry` requests (a range
        # of a shared run comes back alone, from the same start; its end may have grown)
        offset_range = victim["tags"]["mesh/offset-range"]
        starts = {label.rsplit("-", 1)[0] for label in offset_range.split(",")}

        def requested_again():
            return [r for r in gql.runs(job=JOB) if r["runId"] != victim["runId"] and starts & {
                label.rsplit("-", 1)[0] for label in r["tags"].get("mesh/offset-range", "").split(",")}] \
                or gql.retries_of(victim["runId"])

        again = wait_for(requested_again, 180, f"range {offset_range} to be requested again", interval=2)
        # a CDC run is an ingest step and its checks: minutes on busy cores while each is its own process
        assert all(r["status"] != "FAILURE" for r in (gql.wait(r["runId"], timeout=900) for r in again))
    finally:
        producer.stop.set()
        producer.join(timeout=60)
    assert producer.error is None, producer.error
    produced = {**before, **producer.acked}
    try:
        # the sensor keeps requesting ranges until bronze has caught up with the partition's end
        last = max(produced) + 1

        def caught_up():
            if any(r["status"] in ("QUEUED", "STARTING", "STARTED") for r in gql.runs(job=JOB)):
                return None
            seen = _source_positions(mesh)
            return seen if max((o for (t, p, o) in seen if (t, p) == (topic, PARTITION)), default=-1) + 1 >= \
                max(o for o, tomb in produced.items() if not tomb) + 1 else None

        seen = wait_for(caught_up, 900, f"bronze to hold {topic}-{PARTITION} up to offset {last}", interval=5)
    finally:
        gql(STOP, selector=selector)
    mine = Counter({(t, p, o): n for (t, p, o), n in seen.items() if (t, p) == (topic, PARTITION)})
    assert [key for key, n in mine.items() if n > 1] == [], "records landed twice"
    expected = {(topic, PARTITION, o) for o, tombstone in produced.items() if not tombstone}
    assert expected - set(mine) == set(), "records were lost"
    assert set(mine) <= {(topic, PARTITION, o) for o in produced}
