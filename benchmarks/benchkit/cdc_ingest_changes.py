"""What changed in the CDC ingest path since the first figures of ``benchmarks/cdc_ingest.py`` (issue 9 and
after), printed with every report so a figure can be read against the code it measured."""

#: What changed in the measured path since the first figures (issue 9); the work measured is the same:
#: same events, read by offset range + parse + validate + both Iceberg commits inside ``ingest_topic``.
CHANGES = [
    "parse: ColumnarParser (mesh_assets/lib/cdc/columnar.py) parses ~16K-record units as one JSON-lines buffer with "
    "pyarrow.json and validates with pyarrow.compute; records it cannot prove identical go through the unchanged "
    "per-record parse_batch (same rows, same dead letters and reasons)",
    "read: resources.kafka.read_chunks reads in a background thread and hands columnar chunks (no SourceRecord per "
    "record) to the parser while it parses; max_poll_records 1000, partition fetches <= 2 MiB (was 20000 / 16 MiB), "
    "check_crcs still on; no beginning_offsets round trip (retention loss is detected from OffsetOutOfRange and "
    "reported with the same message)",
    "commit: unchanged (dead letters first, then rows, each with its positions in one Iceberg transaction)",
    # second round (issue 9 open goal): fixed costs and the GIL
    "read: reads of >= 20K records (resources.kafka.PROCESS_MIN_RECORDS) go to a helper PROCESS "
    "(resources/kafka_reader_process.py: one per process, started once, kafka imported once; same iter_chunks, "
    "same records and error messages) that streams pickled chunk frames through a pipe, so kafka-python's decoding "
    "(one core) overlaps parse + commit (the other core) instead of sharing the GIL; still ONE kafka-python "
    "consumer, like the bare ceiling. The benchmark starts the helper before the clock (like the tables) and "
    "reports its start cost (helper_start) separately; smaller reads keep the background thread",
    "read: consumer start ~0.2 s -> ~0.05 s: metadata of the ranges' topics is fetched before the first poll "
    "(that poll used to spend its timeout waiting for leaders) and retry_backoff_ms is 20 (was kafka-python's 100: "
    "the topic metadata request waited 100 ms behind the bootstrap's)",
    "parse: pyarrow.json schema declares Debezium's other source fields (connector, db, ts_ms): inferring "
    "undeclared fields cost ~20% of the JSON parse",
    "commit: pyiceberg rebuilt and deep-copied the pending table metadata on each of ~17 reads per append "
    "(cost grows with snapshot history: ~0.25 s CPU per commit at 200 snapshots); "
    "mesh_assets/lib/lakehouse/transactions.py memoizes it per (base metadata, staged updates); same commit",
    "commit: one catalog load per commit attempt (tables.table_loader) instead of namespace check + existence "
    "check (a load) + load + load",
    "parse: units of 8K records (were 16K): same CPU or less (cache), half the parse left after the last chunk",
    "unchanged: both commits still happen (dead letters first, even when empty), positions in the same commits",
    # third round
    "commit: each parsed unit is written to a staged Parquet data file while the batch is still read "
    "(mesh_assets/lib/lakehouse/staged_file.py, mesh_assets/bronze/staged_rows.py); the rows commit only adds the "
    "finished file (~0.03 s instead of ~0.27 s after the last record of a 100K batch); a partly committed range "
    "or an evolved schema falls back to the plain append",
    "read: the helper keeps its consumer between reads (resources.kafka_range_read.ConsumerPool): no new connection, "
    "handshake and metadata per batch; it sends its first chunk at once",
    "parse: rows are no longer sorted before the append (a table has no row order): ~50 ms a 100K batch",
    # fourth round
    "commit: the staged Parquet file dictionary-encodes only the columns that repeat (decided on its first rows); "
    "pyarrow's default tried every column (trade ids, keys, offsets too): write ~1.3 -> ~0.9 us a row, bronze "
    "files ~27% smaller",
    "read: a read's first fetch is capped at 256 KiB per partition (resources.kafka_range_read.FIRST_FETCH_BYTES), "
    "then fetches grow to the read's size: the first records of a 100K batch arrive after ~15 ms instead of ~55 ms",
    "benchmark: every bare run in a fresh Python process (the benchmark's own heap slowed its later bare runs), "
    "bare runs right before and after each batch size, the ceiling is the best bare run of the whole benchmark; "
    "CPU per event of the ingesting process and of the reader helper",
    # fifth round
    "parse: units start at 1,024 records and double up to 8K (mesh_assets.lib.cdc.columnar.FIRST_UNIT_RECORDS), and "
    "the helper's frames grow from 250 records: the parser starts ~45 ms into a 100K read instead of ~140 ms "
    "(it waited for a full unit with nothing else to do)",
    "read: the first fetch of a read is 1 MiB per partition (was 256 KiB): a partition whose next producer batch "
    "is larger than the limit returns nothing except the first one of the response (KIP-74), so with the "
    "benchmark's 512 KiB batches the first fetch brought one partition only",
    "ingest: Python's cyclic garbage collector is paused during a batch (mesh_assets/bronze/collector_pause.py): "
    "full collections walk the whole Dagster + pyiceberg heap (~100 ms each, a few per 300K events)",
    "commit: after its first piece the staged file reuses its projected Arrow schema (field ids) instead of "
    "running pyiceberg's projection per piece; finish() no longer copies an unordered batch into one chunk",
    "benchmark: --rounds more ingest runs at the best batch size, interleaved with bare runs; the ratio is "
    "reported against the best bare run (strict) and against the bare runs around each ingest run (median)",
    "parse (issue 19): quantities and prices are read by pyarrow.json as exact decimal128 (no double), version "
    "as int64, the event time in microseconds from ts_us/ts_ns/ts_ms; a decimal beyond its precision, an "
    "event time out of range, a wrapped JsonConverter record, op t/m go per record; a batch with skips "
    "(tombstones, messages) commits them to bronze.aladdin_cdc_skips first (none in this benchmark's data)",
]
