"""Aladdin CDC (trades, cash flows) into bronze, exactly once, with poison records in dead letters.

Each materialization consumes bounded offset ranges per topic partition, starting at the position
committed in Iceberg. Every record lands as one of: a bronze row, a dead letter (reason and exact
bytes), or a recorded skip (tombstone, header-only record, Debezium message) in
``bronze.aladdin_cdc_skips``. Skips are committed first (only when a batch has any), then dead
letters, then rows; each table skips what it already holds, so a crash between commits neither
loses nor duplicates a record.
"""


import datetime as dt
from typing import TYPE_CHECKING, Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, MetadataValue, multi_asset
from pydantic import Field

from mesh_assets.bronze.kafka_topics import TOPIC_KEYS
from mesh_assets.lib.cdc import CONTRACTS, OffsetRange, ParsedBatch, TopicPartition
from mesh_assets.lib.cdc.envelope import DeadLetter, Skip
from mesh_assets.lib.cdc.microbatch_plan import lag_by_partition, plan_microbatches
from mesh_assets.lib.lakehouse import tables
from mesh_assets.lib.lakehouse.positions import committed_positions, encode_positions, total_records
from mesh_assets.lib.lakehouse.summary_keys import BATCH_ID_KEY, CONTRACT_VERSION_KEY, MAX_EVENT_TS_KEY
from mesh_assets.lib.ownership import DATA_PLATFORM
from resources.cdc_source import CdcSourceResource
from resources.iceberg import IcebergCatalogResource

if TYPE_CHECKING:
    from mesh_assets.lib.cdc.columnar import ColumnarBatch

TRADES_KEY = AssetKey(["bronze", "aladdin", "trades"])
CASH_FLOWS_KEY = AssetKey(["bronze", "aladdin", "cash_flows"])
DEAD_LETTERS_KEY = AssetKey(["bronze", "aladdin", "dead_letters"])
ASSET_OF_TOPIC = {"aladdin.trades": TRADES_KEY, "aladdin.cash_flows": CASH_FLOWS_KEY}


class CdcBatchConfig(Config):
    """Which offsets a micro-batch consumes."""

    topics: list[str] = Field(default=["aladdin.trades", "aladdin.cash_flows"], description="topics to consume")
    max_records_per_partition: int = Field(default=500_000, description="cap on one batch's range per partition")
    ranges: list[str] = Field(
        default=[], description="explicit ranges 'topic-partition-start-end' (from the CDC sensor); empty = catch up"
    )


def parse_range(label: str) -> OffsetRange:
    """``aladdin.trades-3-1200-2200`` -> OffsetRange (topic names may contain dashes)."""
    topic, partition, start, end = label.rsplit("-", 3)
    return OffsetRange(topic, int(partition), int(start), int(end))


def rows_table(batch: ParsedBatch, spec: tables.TableSpec, batch_id: str, ingested_at: dt.datetime):
    """Arrow rows of a parsed batch in the bronze table's schema."""
    import pyarrow as pa

    timestamp = tables.arrow_type("timestamp")
    n = batch.row_count
    data: dict[str, Any] = dict(batch.columns)
    data["event_ts"] = pa.array(batch.columns["ts_us"], pa.int64()).cast(timestamp)
    data["ingested_at"] = pa.array([ingested_at] * n, timestamp)
    data["batch_id"] = [batch_id] * n
    table = pa.Table.from_pydict({f.name: data[f.name] for f in spec.schema}, schema=spec.schema)
    for name, values in batch.extra_columns.items():
        table = table.append_column(pa.field(name, pa.string()), pa.array(values, pa.string()))
    return table


def columnar_rows_table(batch: "ColumnarBatch", spec: tables.TableSpec, batch_id: str, ingested_at: dt.datetime):
    """Arrow rows of a columnar batch in the bronze table's schema (additive fields appended as text)."""
    from mesh_assets.bronze.staged_rows import bronze_rows

    return bronze_rows(batch.rows, batch.extra_columns, spec, batch_id, ingested_at)


def _position_columns(records: list) -> dict[str, list]:
    """Where each record was read (topic, partition, offset, broker timestamp) and its key, as columns."""
    return {
        "source_topic": [r.topic for r in records],
        "source_partition": [r.partition for r in records],
        "source_offset": [r.offset for r in records],
        "source_timestamp_ms": [r.timestamp_ms for r in records],
        "record_key": [r.key.decode("utf-8", "replace") if r.key else None for r in records],
    }


def dead_letter_table(dead: list[DeadLetter], batch_id: str, ingested_at: dt.datetime):
    """Arrow rows of dead letters: position, key, raw bytes and reason."""
    import pyarrow as pa

    return pa.Table.from_pydict(
        {
            **_position_columns([d.record for d in dead]),
            "raw_value": [d.record.value for d in dead],
            "reason_code": [d.reason_code for d in dead],
            "reason": [d.reason for d in dead],
            "ingested_at": pa.array([ingested_at] * len(dead), tables.arrow_type("timestamp")),
            "batch_id": [batch_id] * len(dead),
        },
        schema=tables.DEAD_LETTERS.schema,
    )


def skips_table(skips: list[Skip], batch_id: str, ingested_at: dt.datetime):
    """Arrow rows of recorded skips: position, key and kind."""
    import pyarrow as pa

    return pa.Table.from_pydict(
        {
            **_position_columns([s.record for s in skips]),
            "kind": [s.kind for s in skips],
            "ingested_at": pa.array([ingested_at] * len(skips), tables.arrow_type("timestamp")),
            "batch_id": [batch_id] * len(skips),
        },
        schema=tables.CDC_SKIPS.schema,
    )


def committed_for_topic(iceberg: IcebergCatalogResource, topic: str) -> dict:
    """Per partition of ``topic``, the lower of the positions committed in its table and in dead letters.

    Both tables must hold a range before it counts as done: a crash between their two commits makes
    the next batch start where the lagging table stopped, and each table skips what it already has.
    """
    data = committed_positions(iceberg.table(tables.CDC_TABLES[topic]))
    dead = committed_positions(iceberg.table(tables.DEAD_LETTERS))
    return {tp: min(data.get(tp, 0), dead.get(tp, 0)) for tp in set(data) | set(dead) if tp.topic == topic}


def ingest_topic(
    topic: str,
    ranges: list[OffsetRange],
    cdc_source: CdcSourceResource,
    iceberg: IcebergCatalogResource,
    batch_id: str,
):
    """Read, parse and commit ``ranges`` of ``topic``: dead letters first, then rows.

    Records are parsed into Arrow columns chunk by chunk while the next chunks are read
    (:class:`mesh_assets.lib.cdc.columnar.ColumnarParser`: same rows and dead letters as ``parse_batch``),
    and each parsed unit is written to a staged data file of the bronze table meanwhile
    (:mod:`mesh_assets.bronze.staged_rows`): the rows commit adds that file.
    Python's cyclic garbage collector is paused meanwhile (:mod:`mesh_assets.bronze.collector_pause`).
    Returns (rows outcome, dead-letters outcome, parsed batch).
    """
    from mesh_assets.bronze.collector_pause import collector_paused

    with collector_paused():
        return _ingest_topic(topic, ranges, cdc_source, iceberg, batch_id)


def _ingest_topic(
    topic: str, ranges: list[OffsetRange], cdc_source: CdcSourceResource, iceberg: IcebergCatalogResource,
    batch_id: str,
):
    from mesh_assets.bronze.staged_rows import StagedBronzeRows
    from mesh_assets.lib.cdc.columnar import ColumnarParser
    from mesh_assets.lib.cdc.columnar_schema import rows_schema
    from mesh_assets.lib.lakehouse.exactly_once import add_optional_columns, append_exactly_once
    from mesh_assets.lib.lakehouse.fault_injection import arm, crash_point
    from mesh_assets.lib.lakehouse.schema_evolution import evolve_to_spec
    from resources.settings import mesh_settings

    settings = mesh_settings()
    arm(settings.mesh_fault_injection, settings.mesh_fault_seed, settings.mesh_fault_log)  # chaos tests only

    contract = CONTRACTS[topic]
    spec = tables.CDC_TABLES[topic]
    ingested_at = dt.datetime.now(dt.UTC)
    catalog = iceberg.catalog()
    loader = tables.table_loader(catalog, spec)
    table = evolve_to_spec(loader, spec)  # a table created before a contract change gets its new columns first
    staging = StagedBronzeRows(lambda: table, spec, rows_schema(contract).names, batch_id, ingested_at)
    parser = ColumnarParser(contract, on_rows=staging)
    try:
        for chunk in cdc_source.read_chunks(ranges):  # Kafka is read in the background while chunks are parsed
            parser.add(chunk)
        batch = parser.finish(ordered=False)  # rows in parse order: the staged file holds them so too
    except BaseException:
        staging.stop()
        raise
    summary = {BATCH_ID_KEY: batch_id, CONTRACT_VERSION_KEY: str(contract.version)}
    if batch.max_ts_ms is not None:
        summary[MAX_EVENT_TS_KEY] = str(batch.max_ts_ms)
    crash_point("before_write")
    try:
        if batch.skips:  # committed only when there are any: the table's positions may jump (allow_gaps)
            append_exactly_once(tables.table_loader(catalog, tables.CDC_SKIPS), ranges,
                                skips_table(batch.skips, batch_id, ingested_at), summary, allow_gaps=True)  # fmt: skip
        dead_outcome = append_exactly_once(
            tables.table_loader(catalog, tables.DEAD_LETTERS), ranges,
            dead_letter_table(batch.dead_letters, batch_id, ingested_at), summary,
        )
        crash_point("between_commits")
        if batch.extra_columns:  # a column added here makes the staged file unfit: the commit appends instead
            add_optional_columns(loader, list(batch.extra_columns), f"additive field of {topic} (JSON text)")
    except BaseException:
        staging.stop()
        raise
    data_outcome = append_exactly_once(
        loader, ranges, columnar_rows_table(batch, spec, batch_id, ingested_at), summary, staged=staging.staged()
    )
    crash_point("after_commit")
    return data_outcome, dead_outcome, batch


@multi_asset(
    name="aladdin_cdc",
    specs=[
        AssetSpec(TRADES_KEY, description="Aladdin trade CDC events, parsed and validated (append-only).",
                  group_name="bronze", owners=[DATA_PLATFORM], kinds={"iceberg", "kafka"}, skippable=True,
                  deps=[TOPIC_KEYS["aladdin.trades"]]),
        AssetSpec(CASH_FLOWS_KEY, description="Aladdin external cash-flow CDC events (append-only).",
                  group_name="bronze", owners=[DATA_PLATFORM], kinds={"iceberg", "kafka"}, skippable=True,
                  deps=[TOPIC_KEYS["aladdin.cash_flows"]]),
        AssetSpec(DEAD_LETTERS_KEY, description="CDC records that failed parsing or their topic contract, with reason.",
                  group_name="bronze", owners=[DATA_PLATFORM], kinds={"iceberg"},
                  # the same step writes it from the same topics: a record that fails lands here
                  deps=[TOPIC_KEYS[topic] for topic in sorted(ASSET_OF_TOPIC)]),
    ],
    pool="aladdin_cdc",
)
def aladdin_cdc(
    context: AssetExecutionContext, config: CdcBatchConfig, cdc_source: CdcSourceResource,
    iceberg: IcebergCatalogResource
):
    """Consume the next CDC micro-batch of each topic into bronze, exactly once.

    With explicit ``ranges`` (from the CDC sensor) only the topics they name are consumed; the other
    topic's asset is skipped, not materialized.
    """
    explicit = [parse_range(label) for label in config.ranges]
    topics = sorted({r.topic for r in explicit}) if explicit else config.topics
    _prestart_reader(cdc_source, explicit)
    dead_table = iceberg.table(tables.DEAD_LETTERS)
    dead_rows = 0
    dead_by_reason: dict[str, int] = {}
    dead_ranges: list[OffsetRange] = []
    dead_snapshot = dead_table.current_snapshot().snapshot_id if dead_table.current_snapshot() else None
    for topic in topics:
        if topic not in CONTRACTS:
            raise ValueError(f"no contract for topic {topic!r}; known topics: {sorted(CONTRACTS)}")
        spec = tables.CDC_TABLES[topic]
        end_offsets = {TopicPartition(topic, p): end for p, end in cdc_source.end_offsets(topic).items()}
        ranges = [r for r in explicit if r.topic == topic] or plan_microbatches(
            end_offsets, committed_for_topic(iceberg, topic), (), config.max_records_per_partition
        )
        data_outcome, dead_outcome, batch = ingest_topic(topic, ranges, cdc_source, iceberg, context.run.run_id)
        dead_rows += dead_outcome.rows_written
        dead_ranges += dead_outcome.ranges
        dead_snapshot = dead_outcome.snapshot_id
        for d in batch.dead_letters:
            dead_by_reason[d.reason_code] = dead_by_reason.get(d.reason_code, 0) + 1
        lag = lag_by_partition(end_offsets, data_outcome.positions)
        context.log.info(
            f"{topic}: {len(ranges)} ranges, wrote {data_outcome.rows_written} rows and "
            f"{dead_outcome.rows_written} dead letters ({len(batch.skips)} skips recorded)"
        )
        yield MaterializeResult(
            asset_key=ASSET_OF_TOPIC[topic],
            metadata={
                "dagster/row_count": total_records(iceberg.table(spec)),
                "rows_written": data_outcome.rows_written,
                "records_read": sum(len(r) for r in ranges),
                "tombstones": batch.tombstones,
                "skips_by_kind": MetadataValue.json(_count(s.kind for s in batch.skips)),
                "skips_table": tables.CDC_SKIPS.identifier,
                "dead_letters": len(batch.dead_letters),
                "committed": data_outcome.committed,
                "snapshot_id": str(data_outcome.snapshot_id),
                "source_ranges": MetadataValue.json([r.label() for r in data_outcome.ranges]),
                "already_committed_ranges": MetadataValue.json([r.label() for r in data_outcome.skipped_ranges]),
                "source_positions": MetadataValue.json(_positions_json(data_outcome.positions)),
                "consumer_lag": MetadataValue.json(lag),
                "max_consumer_lag": max(lag.values(), default=0),
                "additive_fields": MetadataValue.json(sorted(batch.extra_columns)),
                "commit_attempts": data_outcome.attempts,
                "table": spec.identifier,
            },
        )
    yield MaterializeResult(
        asset_key=DEAD_LETTERS_KEY,
        metadata={
            "dagster/row_count": total_records(iceberg.table(tables.DEAD_LETTERS)),
            "rows_written": dead_rows,
            "by_reason": MetadataValue.json(dead_by_reason),
            "snapshot_id": str(dead_snapshot),
            "source_ranges": MetadataValue.json([r.label() for r in dead_ranges]),
            "table": tables.DEAD_LETTERS.identifier,
        },
    )


def _prestart_reader(cdc_source: CdcSourceResource, ranges: list[OffsetRange]) -> None:
    """Start the Kafka reader's helper process now when the ranges will use it: it imports kafka
    (~0.5 s on the other core) while this process reads end offsets and committed positions."""
    if cdc_source.backend != "kafka":
        return
    from resources.kafka import PROCESS_MIN_RECORDS
    from resources.kafka_reader_process import prestart

    per_topic: dict[str, int] = {}
    for r in ranges:
        per_topic[r.topic] = per_topic.get(r.topic, 0) + len(r)
    if max(per_topic.values(), default=0) >= PROCESS_MIN_RECORDS:  # each topic is one read
        prestart()


def _count(kinds) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _positions_json(positions: dict) -> dict:
    import orjson

    return orjson.loads(encode_positions(positions))


def defs():
    """Definitions of the CDC assets."""
    from dagster import Definitions

    return Definitions(assets=[aladdin_cdc])
