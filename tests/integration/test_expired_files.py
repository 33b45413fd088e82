"""The files an expiry leaves behind, on a real pyiceberg SqlCatalog: deleted when only expired snapshots reached
them, kept when a kept snapshot (a tag's, or a chain's root) still does (mesh_assets/lib/lakehouse/expired_files.py).
"""

import pyarrow as pa
import pytest

from mesh_assets.lib.lakehouse.expired_files import reachable_files, remove_unreachable
from tests.support.iceberg_files import files_on_disk

pytestmark = pytest.mark.integration

SCHEMA = pa.schema([("day", pa.int32()), ("value", pa.float64())])


def rows(day: int) -> pa.Table:
    return pa.Table.from_pydict({"day": [day], "value": [float(day)]}, schema=SCHEMA)


@pytest.fixture
def table(tmp_path):
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("test", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")
    catalog.create_namespace("maintenance")
    return catalog.create_table("maintenance.marks", schema=SCHEMA, properties={"commit.retry.num-retries": "0"})


def test_only_files_no_kept_snapshot_reaches_are_deleted(table):
    from pyiceberg.table.update.snapshot import ExpireSnapshots

    table.append(rows(1))  # s1: adds file 1, kept by a tag
    s1 = table.current_snapshot()
    table.manage_snapshots().create_tag(s1.snapshot_id, "audit").commit()
    table.append(rows(2))  # s2: adds file 2, expired
    s2 = table.current_snapshot()
    table.overwrite(rows(3))  # s3: file 3 replaces files 1 and 2, current (its parent s2 expires: a chain root)
    before = table.refresh().metadata.snapshots
    file_2 = {t.file.file_path for t in table.scan(snapshot_id=s2.snapshot_id).plan_files()} - {
        t.file.file_path for t in table.scan(snapshot_id=s1.snapshot_id).plan_files()}

    with table.transaction() as tx:
        ExpireSnapshots(tx).by_ids([s2.snapshot_id]).commit()
    table.refresh()
    removal = remove_unreachable(table.io, [s for s in before if s.snapshot_id == s2.snapshot_id],
                                 table.metadata.snapshots)

    assert removal.failed == 0 and removal.deleted >= 2  # file 2 and s2's manifest list at least
    assert files_on_disk(table) == reachable_files(table.io, table.metadata.snapshots)
    assert not file_2 & files_on_disk(table) and len(file_2) == 1
    assert table.scan(snapshot_id=s1.snapshot_id).to_arrow()["day"].to_pylist() == [1]  # the tag still reads
    assert table.scan().to_arrow()["day"].to_pylist() == [3]
    again = remove_unreachable(table.io, [s for s in before if s.snapshot_id == s2.snapshot_id],
                               table.metadata.snapshots)
    assert again.failed == 0 and files_on_disk(table) == reachable_files(table.io, table.metadata.snapshots)  # no raise
