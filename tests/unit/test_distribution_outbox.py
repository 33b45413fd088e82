"""The outbox backend (the embedded default without a broker) and how each environment picks the publisher."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from mesh_assets.lib.distribution import outbox
from mesh_assets.lib.distribution.events import nav_events
from mesh_assets.lib.distribution.topics import NAV_INTRADAY
from resources.kafka_publisher import KafkaPublisherResource

DAY = "2026-10-30"
FUNDS = [f"P-{n:04d}" for n in range(1, 7)]


def events(nav: float = 100.0):
    rows = [{"portfolio_id": f, "nav": nav, "nav_index": 100.0, "external_flow": 0.0, "daily_return": None,
             "return_status": "inception"} for f in FUNDS]
    return nav_events(rows, DAY, dict.fromkeys(FUNDS, "USD"), {}, {"tables": [], "publish_run_id": None}, "")


def _append(root: str) -> None:
    outbox.append_unique(outbox.outbox_path(root, NAV_INTRADAY.name), events(), 1)


def test_the_outbox_appends_each_event_once_as_a_json_line(tmp_path):
    publisher = KafkaPublisherResource(backend="outbox", outbox_dir=str(tmp_path))
    first = publisher.publish(NAV_INTRADAY.name, events())
    assert [(d.partition, d.offset, d.created) for d in first] == [(0, n, True) for n in range(len(FUNDS))]
    again = publisher.publish(NAV_INTRADAY.name, [*events()[:2], *events(nav=101.0)[:1]])
    assert [(d.offset, d.created) for d in again] == [(0, False), (1, False), (6, True)]
    lines = (tmp_path / f"{NAV_INTRADAY.name}.jsonl").read_text().splitlines()
    assert len(lines) == 7 and json.loads(lines[6])["value"]["figures"]["nav"] == 101.0
    assert publisher.end_offsets(NAV_INTRADAY.name) == {0: 7}
    read = publisher.read(NAV_INTRADAY.name, {0: 5})
    assert [e.offset for e in read.events] == [5, 6] and read.ranges == {0: (5, 7)}
    assert read.events[0].document == events()[5].document and read.events[0].key == FUNDS[5]


def test_a_line_torn_by_a_crash_is_dropped_before_the_next_append(tmp_path):
    path = outbox.outbox_path(tmp_path, NAV_INTRADAY.name)
    outbox.append_unique(path, events()[:2], 1)
    with path.open("ab") as handle:
        handle.write(b'{"event_id": "half a li')
    assert outbox.end_offsets(path) == {0: 2}  # the torn line is not a record
    deliveries = outbox.append_unique(path, events(), 2)
    assert [d.created for d in deliveries] == [False, False, True, True, True, True]
    assert [json.loads(line)["offset"] for line in path.read_text().splitlines()] == list(range(len(FUNDS)))


def test_concurrent_appenders_write_every_event_exactly_once(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append, args=(str(tmp_path),)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    lines = [json.loads(line) for line in (tmp_path / f"{NAV_INTRADAY.name}.jsonl").read_text().splitlines()]
    assert sorted(line["key"] for line in lines) == FUNDS and [line["offset"] for line in lines] == list(range(6))


def test_local_publishes_to_the_outbox_without_a_broker_and_to_kafka_with_one(monkeypatch, tmp_path: Path):
    from resources.environment import local_resources

    for name in ("MESH_KAFKA_BOOTSTRAP", "MESH_DISTRIBUTION_KAFKA_BOOTSTRAP", "MESH_KAFKA_TOPIC_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    chosen = local_resources(data_dir=tmp_path, firm_dir=tmp_path / "firm")["distribution_publisher"]
    assert chosen.backend == "outbox" and chosen.outbox_dir == str((tmp_path / "outbox").resolve())
    monkeypatch.setenv("MESH_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    monkeypatch.setenv("MESH_KAFKA_TOPIC_PREFIX", "dev.")
    chosen = local_resources(data_dir=tmp_path, firm_dir=tmp_path / "firm")["distribution_publisher"]
    assert (chosen.backend, chosen.bootstrap_servers) == ("kafka", "127.0.0.1:19092")
    assert chosen.broker_topic(NAV_INTRADAY.name) == "dev.asset-management.nav.intraday"


def test_aws_publishes_to_msk_from_the_cdc_bootstrap_or_its_own(monkeypatch):
    from resources.environment import AWS_SETTINGS, resources_for

    for name in AWS_SETTINGS:
        monkeypatch.setenv(name, "s3://bucket/x" if "ROOT" in name or "WAREHOUSE" in name else "value")
    monkeypatch.setenv("MESH_KAFKA_BOOTSTRAP", "b-1.cdc.msk:9092")
    monkeypatch.delenv("MESH_DISTRIBUTION_KAFKA_BOOTSTRAP", raising=False)
    chosen = resources_for("aws")["distribution_publisher"]
    assert chosen.backend == "kafka" and chosen.bootstrap_servers.env_var_name == "MESH_KAFKA_BOOTSTRAP"
    monkeypatch.setenv("MESH_DISTRIBUTION_KAFKA_BOOTSTRAP", "b-1.dist.msk:9092")
    assert resources_for("aws")["distribution_publisher"].bootstrap_servers.env_var_name == \
        "MESH_DISTRIBUTION_KAFKA_BOOTSTRAP"
