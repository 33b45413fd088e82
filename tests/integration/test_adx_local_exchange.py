"""The local exchange: immutable revision folders on disk and data grants in SQLite, as the demo shows them."""

import datetime as dt
import json
import multiprocessing
import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

from resources.adx_exchange.exchange import AdxGrantError, Exchange
from resources.adx_exchange.local_exchange import LocalExchange
from resources.adx_exchange.product_files import build_product_files

pytestmark = pytest.mark.integration

DATA_SET = "nav_history"
CLIENT_ACCOUNT = "123456789012"


def _nav_files(nav: float = 101.25, day: str = "2025-03-14"):
    table = pa.table({"portfolio_id": ["P-0001", "P-0002"], "nav": [nav, 99.5]})
    return build_product_files("nav_history", day, table)


def _folders(path: Path) -> list[str]:
    return sorted(entry.name for entry in path.iterdir()) if path.is_dir() else []


def test_the_local_exchange_implements_the_exchange_protocol(tmp_path):
    assert isinstance(LocalExchange(tmp_path), Exchange)


def test_publish_writes_a_revision_folder_with_the_files_and_revision_json(tmp_path):
    exchange = LocalExchange(tmp_path)
    files = _nav_files()

    revision = exchange.publish(DATA_SET, files, comment="nav_history 2025-03-14")

    folder = tmp_path / "data_sets" / DATA_SET / "revisions" / revision.revision_id
    assert revision.created is True
    assert len(revision.revision_id) == 32 and int(revision.revision_id, 16) >= 0
    assert Path(revision.location) == folder
    assert _folders(folder) == ["manifest.json", "nav_history.csv", "nav_history.parquet", "revision.json"]
    for name, content in files.files.items():
        assert (folder / name).read_bytes() == content
    record = json.loads((folder / "revision.json").read_text())
    assert record["revision_id"] == revision.revision_id
    assert record["finalized"] is True
    assert record["tags"] == {"mesh:content-hash": files.content_hash}
    assert record["asset_names"] == ["manifest.json", "nav_history.csv", "nav_history.parquet"]
    assert record["row_count"] == 2
    assert dt.datetime.fromisoformat(record["created_at"]).tzinfo is not None
    assert revision.asset_names == tuple(record["asset_names"])
    assert _folders(tmp_path / "data_sets" / DATA_SET) == [".publish.lock", "revisions"]


def test_publishing_identical_content_again_creates_nothing(tmp_path):
    exchange = LocalExchange(tmp_path)
    first = exchange.publish(DATA_SET, _nav_files(), comment="first run")
    before = {path: path.stat().st_mtime_ns for path in (tmp_path / "data_sets").rglob("*") if path.is_file()}

    again = exchange.publish(DATA_SET, _nav_files(), comment="retried run")

    assert again.created is False
    assert again.revision_id == first.revision_id
    assert again.content_hash == first.content_hash
    assert [r.revision_id for r in exchange.revisions(DATA_SET)] == [first.revision_id]
    after = {path: path.stat().st_mtime_ns for path in (tmp_path / "data_sets").rglob("*") if path.is_file()}
    assert after == before


def test_changed_content_makes_a_second_revision_and_leaves_the_first_untouched(tmp_path):
    exchange = LocalExchange(tmp_path)
    first = exchange.publish(DATA_SET, _nav_files(101.25), comment="first")
    first_folder = Path(first.location)
    first_bytes = {path.name: path.read_bytes() for path in first_folder.iterdir()}

    second = exchange.publish(DATA_SET, _nav_files(101.30), comment="corrected")

    assert second.created is True
    assert second.revision_id != first.revision_id
    assert second.content_hash != first.content_hash
    assert {path.name: path.read_bytes() for path in first_folder.iterdir()} == first_bytes
    assert [r.revision_id for r in exchange.revisions(DATA_SET)] == [first.revision_id, second.revision_id]


def test_a_stale_staging_folder_from_a_crash_is_ignored_and_cleaned(tmp_path):
    exchange = LocalExchange(tmp_path)
    data_set_folder = tmp_path / "data_sets" / DATA_SET
    crashed = data_set_folder / ".staging-0123456789abcdef0123456789abcdef"
    crashed.mkdir(parents=True)
    (crashed / "nav_history.parquet").write_bytes(b"PAR1 half written")
    files = _nav_files()
    (crashed / "revision.json").write_text(
        json.dumps({"revision_id": "f" * 32, "finalized": True, "tags": {"mesh:content-hash": files.content_hash}})
    )

    assert exchange.revisions(DATA_SET) == []
    revision = exchange.publish(DATA_SET, files, comment="after the crash")

    assert revision.created is True
    assert not crashed.exists()
    assert [entry for entry in _folders(data_set_folder) if entry.startswith(".staging-")] == []
    assert [r.revision_id for r in exchange.revisions(DATA_SET)] == [revision.revision_id]


def test_a_revision_folder_without_revision_json_is_not_listed(tmp_path):
    exchange = LocalExchange(tmp_path)
    published = exchange.publish(DATA_SET, _nav_files(), comment="real")
    (tmp_path / "data_sets" / DATA_SET / "revisions" / ("e" * 32)).mkdir()

    assert [r.revision_id for r in exchange.revisions(DATA_SET)] == [published.revision_id]


def _publish_in_child(root: str, barrier, results) -> None:
    barrier.wait(timeout=30)
    revision = LocalExchange(Path(root)).publish(DATA_SET, _nav_files(), comment="concurrent")
    results.put((revision.revision_id, revision.created))


def test_two_processes_publishing_the_same_content_end_with_one_revision(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [context.Process(target=_publish_in_child, args=(str(tmp_path), barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    revisions = LocalExchange(tmp_path).revisions(DATA_SET)
    assert len(revisions) == 1
    assert {revision_id for revision_id, _ in outcomes} == {revisions[0].revision_id}
    assert sorted(created for _, created in outcomes) == [False, True]
    assert len(_folders(tmp_path / "data_sets" / DATA_SET / "revisions")) == 1


class _Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_grants_are_created_listed_and_deleted_in_sqlite(tmp_path):
    clock = _Clock(dt.datetime(2025, 3, 14, 12, tzinfo=dt.UTC))
    exchange = LocalExchange(tmp_path, now=clock)
    ends = dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC)

    grant = exchange.create_grant(DATA_SET, CLIENT_ACCOUNT, "C-0001 nav_history", ends, "contract 800-0001")

    assert len(grant.grant_id) == 32 and int(grant.grant_id, 16) >= 0
    assert (grant.data_set, grant.receiver_account, grant.ends_at, grant.expired) == (
        DATA_SET,
        CLIENT_ACCOUNT,
        ends,
        False,
    )
    assert LocalExchange(tmp_path, now=clock).list_grants() == [grant]
    with sqlite3.connect(tmp_path / "grants.db") as connection:
        assert connection.execute("SELECT grant_id, receiver_account FROM data_grants").fetchall() == [
            (grant.grant_id, CLIENT_ACCOUNT)
        ]

    exchange.delete_grant(grant.grant_id)

    assert exchange.list_grants() == []
    with pytest.raises(AdxGrantError, match=grant.grant_id):
        exchange.delete_grant(grant.grant_id)


def test_a_grant_past_its_end_is_reported_expired(tmp_path):
    clock = _Clock(dt.datetime(2025, 3, 14, 12, tzinfo=dt.UTC))
    exchange = LocalExchange(tmp_path, now=clock)
    ends = dt.datetime(2025, 3, 31, tzinfo=dt.UTC)
    short = exchange.create_grant(DATA_SET, CLIENT_ACCOUNT, "short contract", ends, "")
    open_ended = exchange.create_grant(DATA_SET, "210987654321", "open-ended", None, "")

    assert {g.grant_id: g.expired for g in exchange.list_grants()} == {
        short.grant_id: False,
        open_ended.grant_id: False,
    }
    clock.now = ends - dt.timedelta(seconds=1)
    assert {g.grant_id: g.expired for g in exchange.list_grants()} == {
        short.grant_id: False,
        open_ended.grant_id: False,
    }
    clock.now = ends
    assert {g.grant_id: g.expired for g in exchange.list_grants()} == {short.grant_id: True, open_ended.grant_id: False}


def test_a_grant_to_a_non_account_or_already_ended_is_refused(tmp_path):
    exchange = LocalExchange(tmp_path, now=_Clock(dt.datetime(2025, 3, 14, tzinfo=dt.UTC)))

    with pytest.raises(AdxGrantError, match="'C-0001' is not a 12-digit AWS account id"):
        exchange.create_grant(DATA_SET, "C-0001", "bad", None, "")
    with pytest.raises(AdxGrantError, match="has already passed"):
        exchange.create_grant(DATA_SET, CLIENT_ACCOUNT, "late", dt.datetime(2025, 3, 1, tzinfo=dt.UTC), "")
    assert exchange.list_grants() == []


def test_the_resource_publishes_through_the_local_backend(tmp_path):
    from resources.adx import AdxResource

    resource = AdxResource(backend="local", root=str(tmp_path))

    revision = resource.publish(DATA_SET, _nav_files(), comment="through the resource")

    assert [r.revision_id for r in resource.revisions(DATA_SET)] == [revision.revision_id]
    assert (tmp_path / "data_sets" / DATA_SET / "revisions" / revision.revision_id / "revision.json").is_file()


def test_the_resource_refuses_an_unknown_backend_or_an_aws_backend_without_s3_staging():
    from resources.adx import AdxResource

    with pytest.raises(ValueError, match="unknown ADX backend 'ftp'"):
        AdxResource(backend="ftp").exchange()
    with pytest.raises(ValueError, match="staging_root as s3://"):
        AdxResource(backend="aws", region="us-east-1", staging_root="/tmp/staging").exchange()
