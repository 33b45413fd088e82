"""Real materializations of every bronze asset for the small firm, into a temporary catalog and instance."""

import datetime as dt
import json
from pathlib import Path

import pytest
from dagster import AssetKey
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from mesh_assets.lib.trading_calendar import trading_days


def manifest(firm: Path) -> dict:
    return json.loads((firm / "firm.json").read_text())


def sessions(firm: Path) -> list[str]:
    m = manifest(firm)
    days = trading_days(dt.date.fromisoformat(m["start_date"]), dt.date.fromisoformat(m["end_date"]))
    return [d.isoformat() for d in days]


def run_sources(defs, instance):
    return defs.resolve_job_def("bronze_sources").execute_in_process(instance=instance, raise_on_error=False)


def run_deliveries(defs, instance, first: str, last: str):
    return defs.resolve_job_def("bronze_daily_deliveries").execute_in_process(
        instance=instance, raise_on_error=False,
        tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
    )


def checks_by_name(result) -> dict[str, object]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def failed(result) -> dict[str, str]:
    return {name: e.description for name, e in checks_by_name(result).items() if not e.passed}


def iceberg(defs):
    return defs.resources["iceberg"]


def table_rows(defs, spec):
    return iceberg(defs).table(spec).scan().to_arrow()


@pytest.fixture(scope="module")
def world(small_firm, tmp_path_factory):
    """One embedded environment and instance for this module, with all bronze loaded once."""
    from dagster import instance_for_test

    from mesh_assets.definitions import build_definitions

    root = tmp_path_factory.mktemp("bronze_world")
    (root / "dagster_home").mkdir()
    with pytest.MonkeyPatch.context() as patch, instance_for_test(temp_dir=str(root / "dagster_home")) as inst:
        patch.setenv("MESH_ENV", "local")
        patch.setenv("MESH_DATA_DIR", str(root / "data"))
        patch.setenv("MESH_FIRM_DIR", str(small_firm))
        definitions = build_definitions()
        days = sessions(small_firm)
        sources = run_sources(definitions, inst)
        deliveries = run_deliveries(definitions, inst, days[0], days[-1])
        yield {"defs": definitions, "instance": inst, "loaded": (sources, deliveries)}


@pytest.fixture
def defs(world):
    return world["defs"]


@pytest.fixture
def loaded(world):
    return world["loaded"]


@pytest.fixture
def shared_instance(world):
    return world["instance"]


def test_every_bronze_asset_materializes_and_every_error_check_passes(defs, loaded):
    sources, deliveries = loaded
    assert sources.success and deliveries.success
    materialized = {e.asset_key for r in loaded for e in r.get_asset_materialization_events()}
    bronze = {k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[0] == "bronze"}
    assert materialized == bronze
    evaluations = {**checks_by_name(sources), **checks_by_name(deliveries)}
    errors = {n: e.description for n, e in evaluations.items() if not e.passed and e.severity.value == "ERROR"}
    assert not errors, errors
    # The firm carries malformed records on purpose: the WARN checks that count them must be red.
    warned = {n for n, e in evaluations.items() if not e.passed}
    assert {"bronze/aladdin/dead_letters:dead_letter_count", "bronze/aladdin/trades:contract_violations",
            "bronze/aladdin/cash_flows:contract_violations"} <= warned
    # Freshness may warn depending on the hour (the firm's events are weeks old); nothing else may.
    assert warned - {"bronze/aladdin/trades:cdc_freshness", "bronze/aladdin/cash_flows:cdc_freshness"} == {
        "bronze/aladdin/dead_letters:dead_letter_count", "bronze/aladdin/trades:contract_violations",
        "bronze/aladdin/cash_flows:contract_violations"}
    evaluated = set(checks_by_name(sources)) | set(checks_by_name(deliveries))
    declared = defs.resolve_asset_graph().asset_check_keys
    bronze_checks = {f"{k.asset_key.to_user_string()}:{k.name}" for k in declared if k.asset_key.path[0] == "bronze"}
    assert evaluated == bronze_checks


def test_cdc_lands_exactly_the_valid_events_and_dead_letters_hold_the_malformed(defs, loaded, small_firm):
    from mesh_assets.lib.lakehouse import tables

    m = manifest(small_firm)
    malformed = {(r["topic"], r["partition"], r["offset"]) for r in m["edge_cases"]["malformed_records"]}
    tombstones = {(r["topic"], r["partition"], r["offset"]) for r in m["edge_cases"]["tombstones"]}
    dead = table_rows(defs, tables.DEAD_LETTERS)
    dead_positions = set(zip(dead["source_topic"].to_pylist(), dead["source_partition"].to_pylist(),
                             dead["source_offset"].to_pylist(), strict=True))
    assert dead_positions == malformed
    for topic, spec, count_key in [("aladdin.trades", tables.TRADES, "trade_records"),
                                   ("aladdin.cash_flows", tables.CASH_FLOWS, "cash_flow_records")]:
        rows = table_rows(defs, spec)
        positions = set(zip(rows["source_topic"].to_pylist(), rows["source_partition"].to_pylist(),
                            rows["source_offset"].to_pylist(), strict=True))
        assert len(positions) == rows.num_rows, "a source offset landed twice"
        bad = {p for p in malformed | tombstones if p[0] == topic}
        assert rows.num_rows == m["counts"][count_key] - len(bad)
        assert not positions & bad


def test_dead_letters_keep_raw_bytes_and_a_reason_naming_the_record(defs, loaded, small_firm):
    from mesh_assets.lib.lakehouse import tables

    dead = table_rows(defs, tables.DEAD_LETTERS).to_pylist()
    capture = {}
    for topic in ("aladdin.trades", "aladdin.cash_flows"):
        for line in (small_firm / "aladdin" / "cdc" / f"{topic}.jsonl").read_text().splitlines():
            r = json.loads(line)
            capture[(r["topic"], r["partition"], r["offset"])] = r["value"]
    for row in dead:
        position = (row["source_topic"], row["source_partition"], row["source_offset"])
        assert row["raw_value"].decode() == capture[position]
        assert row["reason"].startswith(f"{row['source_topic']}/{row['source_partition']}@{row['source_offset']}: ")


def test_rematerializing_cdc_writes_nothing(defs, shared_instance, loaded):
    from mesh_assets.lib.lakehouse import tables

    before = {spec.identifier: table_rows(defs, spec).num_rows for spec in (tables.TRADES, tables.DEAD_LETTERS)}
    again = run_sources(defs, shared_instance)
    assert again.success
    trades_event = next(e for e in again.get_asset_materialization_events()
                        if e.asset_key == AssetKey(["bronze", "aladdin", "trades"]))
    assert trades_event.materialization.metadata["rows_written"].value == 0
    after = {spec.identifier: table_rows(defs, spec).num_rows for spec in (tables.TRADES, tables.DEAD_LETTERS)}
    assert after == before


def test_rematerializing_a_price_partition_replaces_it(defs, shared_instance, loaded, small_firm):
    from mesh_assets.lib.lakehouse import tables

    day = sessions(small_firm)[10]
    before = table_rows(defs, tables.PRICES)
    again = run_deliveries(defs, shared_instance, day, day)
    assert again.success
    after = table_rows(defs, tables.PRICES)
    assert after.num_rows == before.num_rows
    per_day = after.group_by("delivery_date").aggregate([([], "count_all")]).to_pylist()
    expected = len((small_firm / "bloomberg" / "prices" / f"{day}.csv").read_text().splitlines()) - 1
    assert {r["delivery_date"].isoformat(): r["count_all"] for r in per_day}[day] == expected


def test_materialization_metadata_records_rows_snapshot_and_source_position(loaded):
    events = {e.asset_key.to_user_string(): e.materialization.metadata
              for r in loaded for e in r.get_asset_materialization_events()}
    trades = events["bronze/aladdin/trades"]
    assert trades["dagster/row_count"].value > 0
    assert int(trades["snapshot_id"].value) > 0
    assert trades["source_positions"].value["aladdin.trades"]
    prices = events["bronze/bloomberg/prices"]
    assert int(prices["snapshot_id"].value) > 0 and prices["source_files_sha256"].value
    assert events["bronze/reference/portfolios"]["source_sha256"].value


def test_non_positive_price_fails_the_price_check_naming_file_and_line(firm_copy, tmp_path, monkeypatch, instance):
    from mesh_assets.definitions import build_definitions

    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MESH_FIRM_DIR", str(firm_copy))
    defs = build_definitions()
    day = sessions(firm_copy)[5]
    path = firm_copy / "bloomberg" / "prices" / f"{day}.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    fields = lines[3].split(",")
    bad_security = fields[header.index("security_id")]
    fields[header.index("px_last")] = "-1.5"
    lines[3] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    # Only the delivery is loaded: the price checks must name the bad row whatever else ran.
    result = run_deliveries(defs, instance, day, day)
    failures = failed(result)
    assert "bronze/bloomberg/prices:px_last_positive" in failures
    evaluation = checks_by_name(result)["bronze/bloomberg/prices:px_last_positive"]
    assert "1 of" in evaluation.description and "non-positive px_last" in evaluation.description
    [sample] = evaluation.metadata["samples"].value
    assert sample["security_id"] == bad_security and sample["source_line"] == 3
    assert sample["source_file"].endswith(f"{day}.csv")
    # The bad row is kept in bronze (nothing lost), flagged by the check.
    from mesh_assets.lib.lakehouse.tables import PRICES

    assert table_rows(defs, PRICES).num_rows == len(lines) - 1


def test_missing_delivery_fails_the_run_naming_the_file(instance, firm_copy, tmp_path, monkeypatch):
    from mesh_assets.definitions import build_definitions

    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MESH_FIRM_DIR", str(firm_copy))
    day = sessions(firm_copy)[7]
    (firm_copy / "factset" / "benchmarks" / f"{day}.csv").unlink()
    result = run_deliveries(build_definitions(), instance, day, day)
    assert not result.success
    messages = " ".join(str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure)
    assert f"factset/benchmarks/{day}.csv" in messages


def test_unknown_security_in_trades_fails_known_ids_with_samples(firm_copy, tmp_path, monkeypatch, instance):
    from mesh_assets.definitions import build_definitions

    capture = firm_copy / "aladdin" / "cdc" / "aladdin.trades.jsonl"
    lines = capture.read_text().splitlines()
    for i, line in enumerate(lines):
        record = json.loads(line)
        if record["value"] and '"op":"c"' in record["value"]:
            value = json.loads(record["value"])
            value["after"]["security_id"] = "S-99999"
            record["value"] = json.dumps(value, sort_keys=True, separators=(",", ":"))
            lines[i] = json.dumps(record, sort_keys=True, separators=(",", ":"))
            position = (record["partition"], record["offset"])
            break
    capture.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MESH_FIRM_DIR", str(firm_copy))
    result = run_sources(build_definitions(), instance)
    evaluation = checks_by_name(result)["bronze/aladdin/trades:known_ids"]
    assert not evaluation.passed
    assert "S-99999" in evaluation.description
    sample = evaluation.metadata["samples"].value[0]
    assert (sample["source_partition"], sample["source_offset"]) == position
