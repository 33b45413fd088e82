"""Table maintenance in the `cluster` environment: Trino bin-packs, pyiceberg expires, on one shared catalog.

A bronze-like dead-letters table gets many small exactly-once appends from pyiceberg (positions in every snapshot
summary) in the Iceberg JDBC catalog Trino uses; the maintenance step compacts it with Trino's
`ALTER TABLE ... EXECUTE optimize` (through the warehouse's `query`, the plug-in point of the Trino warehouse
resource) and expires its snapshots through pyiceberg. Rows, positions and exactly-once survive.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from mesh_assets.lib.cdc.microbatch_plan import find_gaps
from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition
from mesh_assets.lib.lakehouse.exactly_once import append_exactly_once
from mesh_assets.lib.lakehouse.positions import committed_positions, committed_ranges_history
from mesh_assets.lib.lakehouse.snapshot_retention import RetentionPolicy, decode_floor
from mesh_assets.lib.lakehouse.summary_keys import EXPIRED_THROUGH_KEY
from mesh_assets.lib.lakehouse.tables import DEAD_LETTERS, TableSpec
from mesh_assets.maintenance.assets import maintain_table
from mesh_assets.maintenance.compactors import SqlCompactor, compactor_for
from mesh_dev.local.trino_layout import TrinoInfo
from resources.iceberg import IcebergCatalogResource
from resources.warehouse import WarehouseResource
from tests.integration.test_table_maintenance import TOPIC, dead_letters
from tests.support.cluster_world import trino_rows

pytestmark = pytest.mark.integration

SMALL = 32 * 1024 * 1024



def test_trino_compacts_and_pyiceberg_expires_keeping_the_positions(trino_cluster: TrinoInfo):
    iceberg = IcebergCatalogResource(catalog_type="sql", name=trino_cluster.catalog,
                                     uri=trino_cluster.catalog_db.sqlalchemy_uri(),
                                     warehouse=trino_cluster.warehouse_uri())
    spec = TableSpec(f"bronze_{uuid.uuid4().hex[:8]}", DEAD_LETTERS.name, DEAD_LETTERS.columns)
    load = iceberg.loader(spec)
    for batch in range(10):
        append_exactly_once(load, [OffsetRange(TOPIC, batch % 2, batch // 2 * 10, batch // 2 * 10 + 10)],
                            dead_letters(batch % 2, [batch // 2 * 10 + 3]))
    positions, rows = committed_positions(load()), load().scan().to_arrow().num_rows
    last_commits = {r.topic_partition: sid for sid, ranges in committed_ranges_history(load()) for r in ranges}
    warehouse = WarehouseResource(engine="trino", trino_host=trino_cluster.host, trino_port=trino_cluster.port,
                                  trino_catalog=trino_cluster.catalog)  # what `cluster` gives the maintenance asset
    compactor = compactor_for(warehouse, SMALL, 4, iceberg.name)
    assert isinstance(compactor, SqlCompactor) and compactor.catalog == trino_cluster.catalog
    cutoff = int(dt.datetime.now(dt.UTC).timestamp() * 1000)

    report = maintain_table(iceberg, spec.identifier, compactor, RetentionPolicy(cutoff, 1), SMALL)

    assert report.error is None, report.error
    assert report.files_before == 10 and report.files_after == 1, report.compaction
    assert report.rows_before == report.rows_after == rows
    table = load()
    assert table.current_snapshot().summary.operation.value in ("replace", "overwrite")  # Trino's optimize
    assert set(last_commits.values()) <= {s.snapshot_id for s in table.snapshots()}
    assert len(table.snapshots()) < 11 and len(report.expired) == 11 - len(table.snapshots())
    assert committed_positions(table) == positions
    # Trino reads the result
    assert trino_rows(trino_cluster, f'SELECT count(*) FROM "{spec.namespace}"."{spec.name}"') == [[rows]]
    floor = decode_floor(table.properties.get(EXPIRED_THROUGH_KEY))
    assert not find_gaps([r for _, r in committed_ranges_history(table)], floor)  # offset_contiguity's verdict
    replay = append_exactly_once(load, [OffsetRange(TOPIC, 0, 30, 40)], dead_letters(0, [33]))
    assert not replay.committed
    after = append_exactly_once(load, [OffsetRange(TOPIC, 0, 50, 60)], dead_letters(0, [55]))
    assert after.committed and committed_positions(load())[TopicPartition(TOPIC, 0)] == 60
