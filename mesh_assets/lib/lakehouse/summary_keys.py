"""Keys the lakehouse writes into Iceberg snapshot summaries and table properties."""

#: Cumulative next offset per topic partition (summary and table property).
POSITIONS_KEY = "mesh.source.positions"
#: Offset ranges one commit covers (summary).
RANGES_KEY = "mesh.kafka.offsets"
#: SHA-256 of the source file a whole-table replacement came from (summary and table property).
SOURCE_HASH_KEY = "mesh.source.sha256"
#: Partitions (delivery days) one replacement wrote (summary).
PARTITIONS_KEY = "mesh.partitions"
#: Source files and their SHA-256 (summary).
FILES_KEY = "mesh.source.files"
#: The Dagster run that committed (summary).
BATCH_ID_KEY = "mesh.batch.id"
#: Version of the topic contract a CDC commit validated against (summary).
CONTRACT_VERSION_KEY = "mesh.contract.version"
#: Newest Debezium ``ts_ms`` in a CDC commit (summary), for freshness without a scan.
MAX_EVENT_TS_KEY = "mesh.source.max_ts_ms"
#: SHA-256 of the rows one partition replacement wrote (summary).
CONTENT_HASH_KEY = "mesh.content.sha256"
#: A trade-stream worker commit's figures (summary, JSON): records, alerts, latency, breakers, end offsets.
STREAM_STATS_KEY = "mesh.stream.stats"
#: The idle trade-stream worker's liveness beat (table property, JSON of the same shape, no records).
HEARTBEAT_PROPERTY = "mesh.stream.heartbeat"
#: Where a snapshot expiry proved each partition's offset history contiguous before expiring it (table property,
#: JSON of the positions' shape): the ``offset_contiguity`` checks start there instead of offset 0.
EXPIRED_THROUGH_KEY = "mesh.source.expired_through"
#: What a maintenance commit did (summary): ``compaction``.
MAINTENANCE_KEY = "mesh.maintenance"
