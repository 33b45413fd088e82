"""Checks beside the CDC assets: contract fields, exactly-once, known ids, source reconciliation."""


from collections import Counter

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    Definitions,
    MetadataValue,
    asset_check,
)

from mesh_assets.bronze.aladdin_cdc import ASSET_OF_TOPIC, DEAD_LETTERS_KEY
from mesh_assets.bronze.cdc_checked_batch import CheckedBatch, checked_batch, rows_in_ranges
from mesh_assets.bronze.reference import REFERENCE_KEYS
from mesh_assets.lib.cdc import CONTRACTS, TopicPartition
from mesh_assets.lib.cdc.microbatch_plan import find_gaps, lag_by_partition
from mesh_assets.lib.lakehouse import tables
from mesh_assets.lib.quality import Verdict
from mesh_assets.shared.check_results import to_check_result
from resources.cdc_source import CdcSourceResource
from resources.iceberg import IcebergCatalogResource

POSITION_COLUMNS = ["source_topic", "source_partition", "source_offset"]
LAG_WARN = 10_000
FRESHNESS_S = 30
#: Dead-letter reasons that mean the producer broke the topic's contract (a breaking schema change).
CONTRACT_REASONS = frozenset({"missing_required_field", "wrong_type", "missing_image", "wrong_table",
                              "reserved_field", "invalid_value", "out_of_range", "precision_loss", "bad_timestamp",
                              "invalid_text"})


def lag_error_limit() -> int:
    """Consumer lag that turns the lag check ERROR: ``MESH_CDC_LAG_ERROR`` (default 100,000)."""
    from resources.settings import mesh_settings

    return mesh_settings().mesh_cdc_lag_error
FOREIGN_KEYS = {"portfolio_id": "portfolios", "security_id": "securities"}


def _scan(iceberg: IcebergCatalogResource, spec: tables.TableSpec, columns: list[str]):
    return iceberg.table(spec).scan(selected_fields=tuple(columns)).to_arrow()


def _combine(verdicts: list[Verdict], what: str) -> Verdict:
    passed = all(v.passed for v in verdicts)
    failing = [v.description for v in verdicts if not v.passed]
    return Verdict(passed, "; ".join(failing) if failing else f"{what}: " + "; ".join(v.description for v in verdicts),
                   {k: v for verdict in verdicts for k, v in verdict.metadata.items()} | {"rules": len(verdicts)})


def _per_range(ranges, positions) -> Counter:
    """How many of ``positions`` ((partition, offset) pairs) fall in each range, by range label."""
    found: Counter[str] = Counter({r.label(): 0 for r in ranges})
    by_partition = {r.partition: r for r in ranges}
    for partition, offset in positions:
        r = by_partition.get(partition)
        if r is not None and r.start <= offset < r.end:
            found[r.label()] += 1
    return found


def _positions_in_ranges(iceberg: IcebergCatalogResource, spec: tables.TableSpec, ranges) -> Counter:
    """Rows of ``spec`` per range of ``ranges`` (one topic), read with a filter on the positions."""
    rows = rows_in_ranges(iceberg, spec, ranges, ["source_partition", "source_offset"])
    return _per_range(ranges, zip(rows["source_partition"].to_pylist(), rows["source_offset"].to_pylist(),
                                  strict=True))


def _scoped(verdict: Verdict, batch: CheckedBatch) -> Verdict:
    """The verdict, its description saying which ranges it covers."""
    ranges = ", ".join(r.label() for r in batch.ranges[:4]) + (" ..." if len(batch.ranges) > 4 else "")
    return Verdict(verdict.passed, f"{verdict.description} (batch: {ranges})", verdict.metadata)


def _nothing_to_check(batch: CheckedBatch) -> AssetCheckResult:
    return AssetCheckResult(passed=True, description="no batch committed yet: nothing to check",
                            metadata={k: v for k, v in batch.metadata().items() if k != "checked_ranges"})


def cdc_checks(topic: str) -> list:
    """The checks of one CDC topic's bronze table."""
    contract = CONTRACTS[topic]
    spec = tables.CDC_TABLES[topic]
    asset_key = ASSET_OF_TOPIC[topic]
    required = [f.name for f in contract.fields if f.required]
    sample_columns = [*POSITION_COLUMNS, contract.key_field, "portfolio_id"]

    @asset_check(asset=asset_key, name="required_fields_present", blocking=True,
                 description=f"Every {contract.table} row of the batch just committed carries the contract's "
                             "required fields (each batch is checked by its own run).")
    def required_fields_present(
        context: AssetCheckExecutionContext, iceberg: IcebergCatalogResource
    ) -> AssetCheckResult:
        import pyarrow.compute as pc

        from mesh_assets.lib.quality.rules import required_values

        batch = checked_batch(context, iceberg, spec, asset_key)
        if not batch.ranges:
            return _nothing_to_check(batch)
        rows = rows_in_ranges(iceberg, spec, batch.ranges, [*POSITION_COLUMNS, "op", *required])
        rows = rows.filter(pc.not_equal(rows["op"], "t")).drop_columns(["op"])  # a truncate row has no image
        return to_check_result(_scoped(required_values(rows, required, sample_columns), batch),
                               table=spec.identifier, **batch.metadata())

    @asset_check(asset=asset_key, name="exactly_once_source_offsets", blocking=True,
                 description="No Kafka (topic, partition, offset) of the batch just committed appears twice in the "
                             "table (offset_contiguity proves from the snapshot summaries that commits never overlap).")
    def exactly_once_source_offsets(
        context: AssetCheckExecutionContext, iceberg: IcebergCatalogResource
    ) -> AssetCheckResult:
        from mesh_assets.lib.quality.rules import no_duplicates

        batch = checked_batch(context, iceberg, spec, asset_key)
        if not batch.ranges:
            return _nothing_to_check(batch)
        rows = rows_in_ranges(iceberg, spec, batch.ranges, POSITION_COLUMNS)  # every snapshot's rows in the ranges
        return to_check_result(_scoped(no_duplicates(rows, POSITION_COLUMNS), batch), table=spec.identifier,
                               **batch.metadata())

    fks = {c: ref for c, ref in FOREIGN_KEYS.items() if c in contract.field_names}

    @asset_check(asset=asset_key, name="known_ids", additional_deps=[REFERENCE_KEYS[r] for r in fks.values()],
                 description=f"Every {', '.join(fks)} of {contract.table} in the batch just committed exists in "
                             "the reference data.")
    def known_ids(context: AssetCheckExecutionContext, iceberg: IcebergCatalogResource) -> AssetCheckResult:
        from mesh_assets.bronze.reference import REFERENCE_TABLES
        from mesh_assets.lib.quality.rules import known_values

        batch = checked_batch(context, iceberg, spec, asset_key)
        if not batch.ranges:
            return _nothing_to_check(batch)
        rows = rows_in_ranges(iceberg, spec, batch.ranges, [*POSITION_COLUMNS, contract.key_field, *fks])
        verdicts = []
        for column, reference in fks.items():
            ref_spec = REFERENCE_TABLES[reference]
            ref_key = ref_spec.schema.names[0]
            known = set(_scan(iceberg, ref_spec, [ref_key])[ref_key].to_pylist())
            verdicts.append(known_values(rows, column, known, ref_spec.identifier, sample_columns))
        return to_check_result(_scoped(_combine(verdicts, "known ids"), batch), table=spec.identifier,
                               **batch.metadata())

    @asset_check(asset=asset_key, name="row_count_matches_source",
                 description="The batch's rows + dead letters + tombstones equal the records in its ranges.")
    def row_count_matches_source(context: AssetCheckExecutionContext, iceberg: IcebergCatalogResource,
                                 cdc_source: CdcSourceResource) -> AssetCheckResult:
        from mesh_assets.lib.quality.rules import counts_match

        batch = checked_batch(context, iceberg, spec, asset_key)  # this run's commit (the next may be landing)
        snapshot_id, ranges = batch.snapshot_id, batch.ranges
        if not ranges:
            return AssetCheckResult(passed=True, description="no batch committed yet", metadata={"ranges": 0})
        # The records Kafka holds in the ranges, read again as columnar chunks (the ingest's reader: no object
        # per record) and counted, not parsed: what each became is in the three tables.
        on_kafka = _per_range(ranges, ())
        for chunk in cdc_source.read_chunks(ranges):
            on_kafka.update(_per_range(ranges, ((chunk.partition, offset) for offset in chunk.offsets)))
        rows = _positions_in_ranges(iceberg, spec, ranges)
        dead = _positions_in_ranges(iceberg, tables.DEAD_LETTERS, ranges)
        skipped = _positions_in_ranges(iceberg, tables.CDC_SKIPS, ranges)
        expected = Counter({label: n - dead[label] - skipped[label] for label, n in on_kafka.items()})
        verdict = counts_match(expected, rows, f"{spec.identifier} batch")
        return to_check_result(
            verdict, snapshot_id=str(snapshot_id), checked_batch=batch.found_by,
            records_in_ranges=sum(on_kafka.values()), dead_letters_in_ranges=sum(dead.values()),
            skips_in_ranges=sum(skipped.values()),
        )

    @asset_check(asset=asset_key, name="offset_contiguity", blocking=True,
                 description="Committed offset ranges of every partition follow each other with no gap or overlap.")
    def offset_contiguity(iceberg: IcebergCatalogResource) -> AssetCheckResult:
        return _contiguity_result(iceberg, spec)

    @asset_check(asset=asset_key, name="consumer_lag",
                 description=f"Offsets on Kafka not yet in bronze: WARN above {LAG_WARN:,}, ERROR above "
                             "MESH_CDC_LAG_ERROR (default 100,000).")
    def consumer_lag(iceberg: IcebergCatalogResource, cdc_source: CdcSourceResource) -> AssetCheckResult:
        from mesh_assets.bronze.aladdin_cdc import committed_for_topic

        ends = {TopicPartition(topic, p): end for p, end in cdc_source.end_offsets(topic).items()}
        lag = lag_by_partition(ends, committed_for_topic(iceberg, topic))
        worst = max(lag.values(), default=0)
        error_limit = lag_error_limit()
        severity = AssetCheckSeverity.ERROR if worst > error_limit else AssetCheckSeverity.WARN
        return AssetCheckResult(
            passed=worst <= LAG_WARN, severity=severity,
            description=f"max lag {worst:,} offsets (warn > {LAG_WARN:,}, error > {error_limit:,})",
            metadata={"max_lag": worst, "total_lag": sum(lag.values()), "warn_threshold": LAG_WARN,
                      "error_threshold": error_limit, "lag_by_partition": MetadataValue.json(lag)},
        )

    @asset_check(asset=asset_key, name="cdc_freshness",
                 description=f"While NYSE is open, the newest committed event is at most {FRESHNESS_S} s old (WARN).")
    def cdc_freshness(iceberg: IcebergCatalogResource) -> AssetCheckResult:
        import datetime as dt

        from mesh_assets.lib.lakehouse.positions import latest_summary_value
        from mesh_assets.lib.lakehouse.summary_keys import MAX_EVENT_TS_KEY
        from mesh_assets.lib.trading_calendar import is_market_open

        now = dt.datetime.now(dt.UTC)
        snapshot_id, newest = latest_summary_value(iceberg.table(spec), MAX_EVENT_TS_KEY)
        if newest is None:
            return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN,
                                    description=f"no event committed to {spec.identifier} yet")
        age_s = (now - dt.datetime.fromtimestamp(int(newest) / 1000, dt.UTC)).total_seconds()
        market_open = is_market_open(now)
        passed = age_s <= FRESHNESS_S or not market_open
        state = "market open" if market_open else "market closed: staleness expected"
        return AssetCheckResult(
            passed=passed, severity=AssetCheckSeverity.WARN,
            description=f"newest event is {age_s:,.0f} s old ({state}; threshold {FRESHNESS_S} s while open)",
            metadata={"newest_event_ts_ms": int(newest), "age_seconds": round(age_s, 1), "threshold_seconds":
                      FRESHNESS_S, "market_open": market_open, "snapshot_id": str(snapshot_id)},
        )

    @asset_check(asset=asset_key, name="contract_violations",
                 description=f"Records of {topic} that broke its contract (sent to dead letters), with samples (WARN).")
    def contract_violations(iceberg: IcebergCatalogResource) -> AssetCheckResult:
        import pyarrow.compute as pc

        dead = _scan(iceberg, tables.DEAD_LETTERS, [*POSITION_COLUMNS, "reason_code", "reason"])
        mask = pc.and_(pc.equal(dead["source_topic"], topic), pc.is_in(dead["reason_code"],
                                                                          value_set=_pa_strings(CONTRACT_REASONS)))
        hits = dead.filter(mask)
        by_reason = Counter(hits["reason_code"].to_pylist())
        samples = hits.select([*POSITION_COLUMNS, "reason"]).slice(0, 5).to_pylist()
        return AssetCheckResult(
            passed=hits.num_rows == 0, severity=AssetCheckSeverity.WARN,
            description=(f"{hits.num_rows} {topic} records broke contract v{contract.version}: {dict(by_reason)}"
                         if hits.num_rows else f"every {topic} record met contract v{contract.version}"),
            metadata={"violations": hits.num_rows, "threshold": 0, "by_reason": MetadataValue.json(dict(by_reason)),
                      "contract_version": contract.version, "samples": MetadataValue.json(samples)},
        )

    return [required_fields_present, exactly_once_source_offsets, known_ids, row_count_matches_source,
            offset_contiguity, consumer_lag, cdc_freshness, contract_violations]


def _pa_strings(values):
    import pyarrow as pa

    return pa.array(sorted(values), pa.string())


def _contiguity_result(iceberg: IcebergCatalogResource, spec: tables.TableSpec) -> AssetCheckResult:
    from mesh_assets.lib.lakehouse.positions import committed_ranges_history
    from mesh_assets.lib.lakehouse.snapshot_retention import decode_floor
    from mesh_assets.lib.lakehouse.summary_keys import EXPIRED_THROUGH_KEY

    table = iceberg.table(spec)
    history = committed_ranges_history(table)
    floor = decode_floor(table.properties.get(EXPIRED_THROUGH_KEY))  # proven, then expired, by table maintenance
    problems = find_gaps([ranges for _, ranges in history], floor)
    partitions = sorted({r.topic_partition.label() for _, ranges in history for r in ranges})
    since = "offset 0" if not floor else "the offsets proven before snapshot expiry"
    return AssetCheckResult(
        passed=not problems,
        description=(f"{len(problems)} gaps/overlaps in committed ranges" if problems else
                     f"{len(history)} commits over {len(partitions)} partitions, contiguous from {since}"),
        metadata={"commits": len(history), "partitions": len(partitions), "problems": len(problems),
                  "samples": MetadataValue.json(problems[:5]),
                  "expired_through": MetadataValue.json({tp.label(): o for tp, o in sorted(floor.items())})},
    )


@asset_check(asset=DEAD_LETTERS_KEY, name="offset_contiguity", blocking=True,
             description="Committed offset ranges of every partition follow each other with no gap or overlap.")
def dead_letters_offset_contiguity(iceberg: IcebergCatalogResource) -> AssetCheckResult:
    """Dead letters cover every offset range once, in order."""
    return _contiguity_result(iceberg, tables.DEAD_LETTERS)


@asset_check(asset=DEAD_LETTERS_KEY, name="dead_letter_count",
             description="Poison CDC records waiting in dead letters (WARN: the batch went on without them).")
def dead_letter_count(iceberg: IcebergCatalogResource) -> AssetCheckResult:
    """WARN when dead letters exist, with counts by reason and samples of positions and reasons."""
    rows = _scan(iceberg, tables.DEAD_LETTERS, ["source_topic", "source_partition", "source_offset", "reason_code",
                                                "reason"])
    by_reason = Counter(rows["reason_code"].to_pylist())
    by_topic = Counter(rows["source_topic"].to_pylist())
    samples = rows.select(["source_topic", "source_partition", "source_offset", "reason"]).slice(0, 5).to_pylist()
    count = rows.num_rows
    return AssetCheckResult(
        passed=count == 0,
        severity=AssetCheckSeverity.WARN,
        description=f"{count} dead letters ({dict(by_reason)})" if count else "no dead letters",
        metadata={"dead_letters": count, "threshold": 0, "by_reason": MetadataValue.json(dict(by_reason)),
                  "by_topic": MetadataValue.json(dict(by_topic)), "samples": MetadataValue.json(samples)},
    )


def defs() -> Definitions:
    """Definitions of the CDC checks."""
    return Definitions(asset_checks=[*cdc_checks("aladdin.trades"), *cdc_checks("aladdin.cash_flows"),
                                     dead_letter_count, dead_letters_offset_contiguity])
