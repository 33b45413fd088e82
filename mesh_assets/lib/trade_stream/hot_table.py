"""The trade stream's hot Iceberg table ``stream.trades_enriched`` (asset ``stream/trades/enriched``).

One row per valid CDC event of ``aladdin.trades`` the trade worker (``python -m trade_worker``) consumed, written in
sub-second micro-batches by :func:`mesh_assets.lib.lakehouse.exactly_once.append_exactly_once`: each commit
holds its Kafka ranges and cumulative positions in the snapshot summary, plus ``mesh.stream.stats``.
The column names are the contract shared with the companion sensor (``docs``: the stream contract).
"""

from __future__ import annotations

from mesh_assets.lib.lakehouse.tables import Columns, TableSpec

#: Namespace of the streaming tables.
STREAM = "stream"

ENRICHED_COLUMNS: Columns = (
    # where the event came from (the exactly-once key) and its deterministic id
    ("source_topic", "string"), ("source_partition", "int32"), ("source_offset", "int64"),
    ("source_timestamp_ms", "int64"), ("event_id", "string"), ("op", "string"), ("ts_ms", "int64"),
    ("lsn", "int64"),
    # the trade (after image; the before image for a delete)
    ("trade_id", "string"), ("version", "int32"), ("portfolio_id", "string"), ("security_id", "string"),
    ("side", "string"), ("quantity", "double"), ("price", "double"), ("currency", "string"), ("trade_date", "date"),
    # enrichment
    ("notional", "double"), ("close_price", "double"), ("close_date", "date"), ("deviation", "double"),
    ("position_quantity", "double"), ("cost_basis", "double"), ("position_notional", "double"),
    ("limit_notional", "double"),
    # what the event changed in the book, signed: on the row's (security, trade date), and every change as
    # JSON [[security_id, trade_date, quantity, cost], ...] (a correction reverses before and applies after)
    ("quantity_change", "double"), ("cost_change", "double"), ("book_changes", "string"),
    ("alerts", "string"), ("alert_reasons", "string"),
    ("worker_id", "string"), ("enriched_at_ms", "int64"), ("latency_ms", "double"),
)

#: The hot table. Unpartitioned: micro-batches are small and the sensor reads snapshots, not data.
ENRICHED_TRADES = TableSpec(STREAM, "trades_enriched", ENRICHED_COLUMNS)
