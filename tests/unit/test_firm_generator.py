"""The synthetic firm generator: determinism, file layout, and the edge cases it promises."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import subprocess
import sys
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from mesh_assets.lib.trading_calendar import is_trading_day
from mesh_dev.firm import SCALES, generate_firm

TOPIC_FILES = {
    "aladdin.trades": "aladdin/cdc/aladdin.trades.jsonl",
    "aladdin.cash_flows": "aladdin/cdc/aladdin.cash_flows.jsonl",
}
ID_FIELD = {"aladdin.trades": "trade_id", "aladdin.cash_flows": "flow_id"}
NUMERIC_FIELD = {"aladdin.trades": "quantity", "aladdin.cash_flows": "amount"}
VALID_OPS = {"c", "u", "d", "r"}


@dataclass
class Firm:
    root: Path
    manifest: dict


@dataclass
class Record:
    topic: str
    line: int
    message: dict
    envelope: dict | None  # None for tombstones and unparseable values
    malformed: str | None


def _generate(tmp_path_factory: pytest.TempPathFactory, name: str, seed: int) -> Firm:
    root = tmp_path_factory.mktemp(name) / "firm"
    return Firm(root, generate_firm(root, scale="small", seed=seed))


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> Firm:
    return _generate(tmp_path_factory, "firm", 7)


@pytest.fixture(scope="module")
def firm_again(tmp_path_factory: pytest.TempPathFactory) -> Firm:
    return _generate(tmp_path_factory, "firm_again", 7)


@pytest.fixture(scope="module")
def other_seed_firm(tmp_path_factory: pytest.TempPathFactory) -> Firm:
    return _generate(tmp_path_factory, "other_seed", 8)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _malformed_kind(topic: str, value: str | None) -> tuple[dict | None, str | None]:
    """Classify a record's value the way a careful consumer would."""
    if value is None:
        return None, None
    try:
        envelope = json.loads(value)
    except json.JSONDecodeError:
        return None, "truncated_json"
    if envelope["op"] not in VALID_OPS:
        return envelope, "unknown_op"
    image = envelope["after"] if envelope["op"] != "d" else envelope["before"]
    if "portfolio_id" not in image:
        return envelope, "missing_required_field"
    if not isinstance(image[NUMERIC_FIELD[topic]], int | float):
        return envelope, "wrong_type"
    return envelope, None


@pytest.fixture(scope="module")
def records(firm: Firm) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for topic, relative in TOPIC_FILES.items():
        lines = (firm.root / relative).read_text().splitlines()
        out[topic] = []
        for number, line in enumerate(lines):
            message = json.loads(line)
            envelope, malformed = _malformed_kind(topic, message["value"])
            out[topic].append(Record(topic, number, message, envelope, malformed))
    return out


@pytest.fixture(scope="module")
def closes(firm: Firm) -> dict[tuple[str, str], float]:
    prices: dict[tuple[str, str], float] = {}
    for path in sorted((firm.root / "bloomberg/prices").glob("*.csv")):
        for row in _read_csv(path):
            prices[(row["security_id"], row["price_date"])] = float(row["px_last"])
    return prices


@pytest.fixture(scope="module")
def final_state(records: dict[str, list[Record]]) -> dict[str, dict[str, dict]]:
    """Latest image per id by LSN, deletes removed, malformed records and tombstones skipped."""
    state: dict[str, dict[str, dict]] = {}
    for topic, topic_records in records.items():
        latest: dict[str, tuple[int, dict | None]] = {}
        for record in topic_records:
            if record.envelope is None or record.malformed is not None:
                continue
            envelope = record.envelope
            row_id = json.loads(record.message["key"])[ID_FIELD[topic]]
            lsn = envelope["source"]["lsn"]
            if row_id not in latest or latest[row_id][0] < lsn:
                latest[row_id] = (lsn, envelope["after"] if envelope["op"] != "d" else None)
        state[topic] = {row_id: image for row_id, (_, image) in latest.items() if image is not None}
    return state


@pytest.fixture(scope="module")
def trading_dates(firm: Firm) -> list[str]:
    return sorted(path.stem for path in (firm.root / "bloomberg/prices").glob("*.csv"))


@pytest.fixture(scope="module")
def daily_positions(
    final_state: dict[str, dict[str, dict]], trading_dates: list[str]
) -> dict[str, dict[str, tuple[dict[str, float], float]]]:
    """portfolio -> date -> (holdings, cash) at the end of that date, from the applied CDC state."""
    events: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for trade in final_state["aladdin.trades"].values():
        events[trade["portfolio_id"]][trade["trade_date"]].append(trade)
    for flow in final_state["aladdin.cash_flows"].values():
        events[flow["portfolio_id"]][flow["flow_date"]].append(flow)
    positions: dict[str, dict[str, tuple[dict[str, float], float]]] = {}
    for portfolio in sorted(events):
        holdings: dict[str, float] = defaultdict(float)
        cash = 0.0
        positions[portfolio] = {}
        for date in trading_dates:
            for event in events[portfolio].get(date, []):
                if "amount" in event:
                    cash += event["amount"]
                elif event["side"] == "BUY":
                    holdings[event["security_id"]] += event["quantity"]
                    cash -= event["quantity"] * event["price"]
                else:
                    holdings[event["security_id"]] -= event["quantity"]
                    cash += event["quantity"] * event["price"]
            positions[portfolio][date] = (dict(holdings), cash)
    return positions


# -- determinism -----------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(firm: Firm, firm_again: Firm) -> None:
    assert (firm.root / "firm.json").read_bytes() == (firm_again.root / "firm.json").read_bytes()
    for relative in firm.manifest["files"]:
        assert (firm.root / relative).read_bytes() == (firm_again.root / relative).read_bytes(), relative


def test_different_seed_gives_a_different_firm(firm: Firm, other_seed_firm: Firm) -> None:
    ours = {path: entry["sha256"] for path, entry in firm.manifest["files"].items()}
    theirs = {path: entry["sha256"] for path, entry in other_seed_firm.manifest["files"].items()}
    assert ours["aladdin/cdc/aladdin.trades.jsonl"] != theirs["aladdin/cdc/aladdin.trades.jsonl"]
    assert ours["reference/securities.csv"] != theirs["reference/securities.csv"]


def test_generated_code_does_not_import_dagster() -> None:
    code = "import sys, mesh_dev.firm; assert 'dagster' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- layout and manifest ---------------------------------------------------------------------------


def test_manifest_lists_every_written_file_with_sha256_and_rows(firm: Firm) -> None:
    on_disk = {p.relative_to(firm.root).as_posix() for p in firm.root.rglob("*") if p.is_file()}
    assert on_disk - {"firm.json"} == set(firm.manifest["files"])
    for relative, entry in firm.manifest["files"].items():
        data = (firm.root / relative).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], relative
        if relative.endswith(".jsonl"):
            rows = len(data.splitlines())
        elif relative.endswith(".csv"):
            rows = len(data.splitlines()) - 1
        else:
            rows = len(json.loads(data)["records"])
        assert rows == entry["rows"], relative


def test_manifest_counts_match_the_small_scale(firm: Firm) -> None:
    scale = SCALES["small"]
    counts = firm.manifest["counts"]
    assert firm.manifest["trading_days"] == scale.trading_days == 60
    assert firm.manifest["kafka_partitions"] == scale.kafka_partitions == 6
    assert (counts["clients"], counts["composites"], counts["portfolios"]) == (6, 3, 12)
    assert (counts["securities"], counts["benchmarks"]) == (40, 3)
    assert counts["price_rows"] == 40 * 60
    assert counts["benchmark_rows"] == 3 * 60
    files = firm.manifest["files"]
    assert counts["trade_records"] == files["aladdin/cdc/aladdin.trades.jsonl"]["rows"]
    assert counts["cash_flow_records"] == files["aladdin/cdc/aladdin.cash_flows.jsonl"]["rows"]


def test_file_dates_are_the_last_nyse_trading_days(firm: Firm, trading_dates: list[str]) -> None:
    assert len(trading_dates) == 60
    assert all(is_trading_day(dt.date.fromisoformat(d)) for d in trading_dates)
    assert "2026-09-07" not in trading_dates  # Labor Day
    assert trading_dates[-1] == "2026-10-30" == firm.manifest["end_date"]
    assert trading_dates[0] == firm.manifest["start_date"]
    benchmark_dates = sorted(p.stem for p in (firm.root / "factset/benchmarks").glob("*.csv"))
    assert benchmark_dates == trading_dates


def test_every_edge_case_list_is_non_empty(firm: Firm) -> None:
    empty = [name for name, entries in firm.manifest["edge_cases"].items() if not entries]
    assert empty == []


def test_reference_ids_follow_their_formats(firm: Firm) -> None:
    clients = _read_csv(firm.root / "reference/clients.csv")
    securities = _read_csv(firm.root / "reference/securities.csv")
    assert [c["client_id"] for c in clients] == [f"C-{i:04d}" for i in range(1, 7)]
    assert all(len(c["aws_account_id"]) == 12 and c["aws_account_id"][0] != "0" for c in clients)
    assert all(len(c["salesforce_account_id"]) == 18 for c in clients)
    assert all(c["salesforce_account_id"].startswith("001") for c in clients)
    figis = [s["figi"] for s in securities]
    assert len(set(figis)) == len(figis)
    assert all(f.startswith("BBG") and len(f) == 12 and f.isupper() and f.isalnum() for f in figis)


def test_non_discretionary_portfolios_have_no_composite(firm: Firm) -> None:
    portfolios = _read_csv(firm.root / "reference/portfolios.csv")
    outside = [p for p in portfolios if p["discretionary"] == "false"]
    assert outside and all(p["composite_id"] == "" for p in outside)
    assert all(p["composite_id"] for p in portfolios if p["discretionary"] == "true")
    assert all(json.loads(p["fee_schedule"])[-1]["up_to"] is None for p in portfolios)


# -- market data -----------------------------------------------------------------------------------


def test_late_price_is_missing_from_its_own_day_and_delivered_next_day(firm: Firm) -> None:
    late = firm.manifest["edge_cases"]["late_prices"]
    assert len(late) >= 3
    for entry in late:
        own = _read_csv(firm.root / f"bloomberg/prices/{entry['price_date']}.csv")
        assert entry["security_id"] not in {row["security_id"] for row in own}
        delivered = _read_csv(firm.root / f"bloomberg/prices/{entry['delivery_date']}.csv")
        assert any(
            row["security_id"] == entry["security_id"] and row["price_date"] == entry["price_date"] for row in delivered
        )


def test_every_security_has_one_positive_price_every_day(
    closes: dict[tuple[str, str], float], trading_dates: list[str], firm: Firm
) -> None:
    securities = [s["security_id"] for s in _read_csv(firm.root / "reference/securities.csv")]
    assert set(closes) == {(s, d) for s in securities for d in trading_dates}
    assert min(closes.values()) > 0


def test_benchmark_levels_start_at_1000_and_returns_match_levels(firm: Firm, trading_dates: list[str]) -> None:
    previous: dict[str, float] = {}
    for date in trading_dates:
        for row in _read_csv(firm.root / f"factset/benchmarks/{date}.csv"):
            level = float(row["level"])
            if date == trading_dates[0]:
                assert level == 1000.0 and float(row["daily_return"]) == 0.0
            else:
                expected = level / previous[row["benchmark_id"]] - 1
                assert float(row["daily_return"]) == pytest.approx(expected, abs=1e-8)
            previous[row["benchmark_id"]] = level


# -- the Kafka capture -----------------------------------------------------------------------------


def test_offsets_are_contiguous_from_zero_per_partition(records: dict[str, list[Record]]) -> None:
    for topic_records in records.values():
        offsets: dict[int, list[int]] = defaultdict(list)
        for record in topic_records:
            offsets[record.message["partition"]].append(record.message["offset"])
        for partition_offsets in offsets.values():
            assert partition_offsets == list(range(len(partition_offsets)))


def test_partition_is_crc32_of_the_portfolio_id(records: dict[str, list[Record]]) -> None:
    for topic_records in records.values():
        for record in topic_records:
            portfolio_id = json.loads(record.message["key"])["portfolio_id"]
            assert record.message["partition"] == zlib.crc32(portfolio_id.encode()) % 6


def test_lsn_is_strictly_increasing_and_unique_across_both_topics(records: dict[str, list[Record]]) -> None:
    every_lsn = []
    for topic_records in records.values():
        lsns = [r.envelope["source"]["lsn"] for r in topic_records if r.envelope is not None]
        assert lsns == sorted(lsns) and len(set(lsns)) == len(lsns)
        every_lsn += lsns
    assert len(set(every_lsn)) == len(every_lsn)


def test_snapshot_records_come_first_and_cover_the_first_day(records: dict[str, list[Record]], firm: Firm) -> None:
    date_field = {"aladdin.trades": "trade_date", "aladdin.cash_flows": "flow_date"}
    for topic, topic_records in records.items():
        ops = [r.envelope["op"] if r.envelope else None for r in topic_records]
        snapshot = ops[: len(ops) - ops[::-1].index("r")]  # everything up to the last "r"
        assert set(snapshot) == {"r"}
        assert "r" not in ops[len(snapshot) :]
        for record in topic_records[: len(snapshot)]:
            assert record.envelope["before"] is None
            assert record.envelope["after"][date_field[topic]] == firm.manifest["start_date"]


def test_kafka_timestamp_is_the_envelope_ts_ms(records: dict[str, list[Record]]) -> None:
    for topic_records in records.values():
        for record in topic_records:
            if record.envelope is not None:
                assert record.message["timestamp_ms"] == record.envelope["ts_ms"]


def test_tombstone_follows_a_delete_with_the_same_key(firm: Firm, records: dict[str, list[Record]]) -> None:
    tombstones = firm.manifest["edge_cases"]["tombstones"]
    found = [r for rs in records.values() for r in rs if r.message["value"] is None]
    assert sorted((r.topic, r.message["partition"], r.message["offset"]) for r in found) == sorted(
        (t["topic"], t["partition"], t["offset"]) for t in tombstones
    )
    for tombstone in found:
        delete = records[tombstone.topic][tombstone.line - 1]
        assert delete.envelope is not None and delete.envelope["op"] == "d"
        assert delete.envelope["after"] is None and delete.envelope["before"] is not None
        assert delete.message["key"] == tombstone.message["key"]
        assert delete.message["partition"] == tombstone.message["partition"]
        assert delete.message["offset"] + 1 == tombstone.message["offset"]


def test_malformed_records_match_the_manifest_and_break_their_rule(
    firm: Firm, records: dict[str, list[Record]]
) -> None:
    listed = sorted(
        (m["topic"], m["partition"], m["offset"], m["kind"]) for m in firm.manifest["edge_cases"]["malformed_records"]
    )
    found = sorted(
        (r.topic, r.message["partition"], r.message["offset"], r.malformed)
        for rs in records.values()
        for r in rs
        if r.malformed
    )
    assert found == listed
    for topic in TOPIC_FILES:
        kinds = [kind for t, _, _, kind in listed if t == topic]
        for kind in ("truncated_json", "unknown_op", "missing_required_field", "wrong_type"):
            assert kinds.count(kind) >= 2, (topic, kind)


def test_out_of_order_timestamps_are_earlier_than_their_partition_predecessor(
    firm: Firm, records: dict[str, list[Record]]
) -> None:
    found = []
    for topic, topic_records in records.items():
        previous: dict[int, int] = {}
        for record in topic_records:
            partition, ts = record.message["partition"], record.message["timestamp_ms"]
            if partition in previous and ts < previous[partition]:
                found.append((topic, partition, record.message["offset"]))
            previous[partition] = ts
    listed = [(e["topic"], e["partition"], e["offset"]) for e in firm.manifest["edge_cases"]["out_of_order_ts"]]
    assert sorted(found) == sorted(listed)
    assert {topic for topic, _, _ in listed} == set(TOPIC_FILES)


def test_corrections_update_to_the_next_version(firm: Firm, records: dict[str, list[Record]]) -> None:
    edge = firm.manifest["edge_cases"]
    trade_updates = _updates(records["aladdin.trades"], "trade_id")
    flow_updates = _updates(records["aladdin.cash_flows"], "flow_id")
    assert set(edge["corrected_trades"]) == set(trade_updates)
    assert set(edge["corrected_cash_flows"]) == set(flow_updates)
    trades = len({json.loads(r.message["key"])["trade_id"] for r in records["aladdin.trades"]})
    assert len(edge["corrected_trades"]) >= 0.02 * trades
    for envelope in [*trade_updates.values(), *flow_updates.values()]:
        assert envelope["after"]["version"] == envelope["before"]["version"] + 1
        assert envelope["after"] != {**envelope["before"], "version": envelope["after"]["version"]}


def _updates(topic_records: list[Record], id_field: str) -> dict[str, dict]:
    return {
        r.envelope["after"][id_field]: r.envelope
        for r in topic_records
        if r.envelope is not None and r.malformed is None and r.envelope["op"] == "u"
    }


def test_wrong_prices_in_corrections_were_off_by_three_to_eight_percent(records: dict[str, list[Record]]) -> None:
    for envelope in _updates(records["aladdin.trades"], "trade_id").values():
        before, after = envelope["before"], envelope["after"]
        if before["price"] != after["price"]:
            assert 0.029 < abs(before["price"] / after["price"] - 1) < 0.081


def test_cancelled_trades_are_deleted_and_rebooked_under_new_ids(
    firm: Firm, records: dict[str, list[Record]], final_state: dict[str, dict[str, dict]]
) -> None:
    edge = firm.manifest["edge_cases"]
    trades = {json.loads(r.message["key"])["trade_id"] for r in records["aladdin.trades"]}
    assert len(edge["cancelled_trades"]) >= 0.01 * len(trades)
    assert len(edge["rebooked_trades"]) == len(edge["cancelled_trades"])
    deleted = {
        r.envelope["before"]["trade_id"] for r in records["aladdin.trades"] if r.envelope and r.envelope["op"] == "d"
    }
    assert deleted == set(edge["cancelled_trades"])
    final = final_state["aladdin.trades"]
    assert not deleted & set(final)
    assert set(edge["rebooked_trades"]) <= set(final)
    created = {
        r.envelope["after"]["trade_id"] for r in records["aladdin.trades"] if r.envelope and r.envelope["op"] == "c"
    }
    assert set(edge["rebooked_trades"]) <= created


def test_trades_settle_on_the_next_trading_day(
    final_state: dict[str, dict[str, dict]], trading_dates: list[str]
) -> None:
    for trade in final_state["aladdin.trades"].values():
        index = trading_dates.index(trade["trade_date"])
        if index + 1 < len(trading_dates):
            assert trade["settle_date"] == trading_dates[index + 1]
        else:
            assert trade["settle_date"] > trade["trade_date"]


def test_rebalance_sell_and_buy_share_a_transaction(records: dict[str, list[Record]]) -> None:
    sides_by_tx: dict[int, set[str]] = defaultdict(set)
    for record in records["aladdin.trades"]:
        if record.envelope and record.malformed is None and record.envelope["op"] in ("c", "r"):
            sides_by_tx[record.envelope["source"]["txId"]].add(record.envelope["after"]["side"])
    assert any(sides == {"BUY", "SELL"} for sides in sides_by_tx.values())


# -- the economics after applying the capture ------------------------------------------------------


def test_holdings_and_cash_never_go_negative_after_applying_cdc(daily_positions) -> None:
    for portfolio, days in daily_positions.items():
        for date, (holdings, cash) in days.items():
            assert min(holdings.values(), default=0) >= 0, (portfolio, date)
            assert cash >= -1e-6, (portfolio, date, cash)


def test_large_cash_flows_exceed_ten_percent_of_market_value(
    firm: Firm,
    final_state: dict[str, dict[str, dict]],
    daily_positions,
    closes: dict[tuple[str, str], float],
    trading_dates: list[str],
) -> None:
    large = firm.manifest["edge_cases"]["large_cash_flows"]
    assert len(large) >= 3
    for flow_id in large:
        flow = final_state["aladdin.cash_flows"][flow_id]
        index = trading_dates.index(flow["flow_date"])
        assert index > 0
        holdings, cash = daily_positions[flow["portfolio_id"]][trading_dates[index - 1]]
        value = cash + sum(q * closes[(s, flow["flow_date"])] for s, q in holdings.items())
        assert abs(flow["amount"]) > 0.10 * value, flow_id


def test_price_discrepancy_trades_deviate_more_than_two_percent_from_the_close(
    firm: Firm, final_state: dict[str, dict[str, dict]], closes: dict[tuple[str, str], float]
) -> None:
    trades = final_state["aladdin.trades"]
    discrepancies = firm.manifest["edge_cases"]["price_discrepancy_trades"]
    assert len(discrepancies) >= 3
    for trade_id in discrepancies:
        trade = trades[trade_id]
        close = closes[(trade["security_id"], trade["trade_date"])]
        assert abs(trade["price"] / close - 1) > 0.02
    ordinary = [t for i, t in trades.items() if i not in set(discrepancies)]
    assert all(abs(t["price"] / closes[(t["security_id"], t["trade_date"])] - 1) <= 0.0031 for t in ordinary)


def test_composite_entries_incept_mid_window_and_start_trading_then(
    firm: Firm, daily_positions, trading_dates: list[str]
) -> None:
    portfolios = {p["portfolio_id"]: p for p in _read_csv(firm.root / "reference/portfolios.csv")}
    entries = firm.manifest["edge_cases"]["composite_entries"]
    assert len(entries) >= 2
    for portfolio_id in entries:
        inception = portfolios[portfolio_id]["inception_date"]
        assert inception > trading_dates[0] and portfolios[portfolio_id]["composite_id"]
        before = daily_positions[portfolio_id][trading_dates[trading_dates.index(inception) - 1]]
        assert before == ({}, 0.0)
        holdings, _ = daily_positions[portfolio_id][inception]
        assert sum(holdings.values()) > 0


def test_composite_exits_sell_everything_and_redeem_their_cash(
    firm: Firm, daily_positions, trading_dates: list[str]
) -> None:
    portfolios = {p["portfolio_id"]: p for p in _read_csv(firm.root / "reference/portfolios.csv")}
    exits = firm.manifest["edge_cases"]["composite_exits"]
    assert exits
    assert {p for p, row in portfolios.items() if row["termination_date"]} == set(exits)
    for portfolio_id in exits:
        termination = portfolios[portfolio_id]["termination_date"]
        assert termination < trading_dates[-1]
        for date in trading_dates[trading_dates.index(termination) :]:
            holdings, cash = daily_positions[portfolio_id][date]
            assert all(q == 0 for q in holdings.values())
            assert 0 <= cash < 0.02


# -- Salesforce ------------------------------------------------------------------------------------


def test_salesforce_accounts_mirror_the_clients(firm: Firm) -> None:
    accounts = json.loads((firm.root / "salesforce/accounts.json").read_text())
    clients = _read_csv(firm.root / "reference/clients.csv")
    assert accounts["done"] is True and accounts["totalSize"] == len(accounts["records"]) == len(clients)
    by_client = {a["Client_Id__c"]: a for a in accounts["records"]}
    for client in clients:
        account = by_client[client["client_id"]]
        assert account["Id"] == client["salesforce_account_id"]
        assert account["attributes"]["url"].endswith(f"/sobjects/Account/{account['Id']}")
        assert account["AWS_Account_Id__c"] == client["aws_account_id"]
        assert account["CreatedDate"].endswith(".000+0000") and account["CreatedDate"] <= account["SystemModstamp"]


def test_salesforce_contracts_cover_every_status_and_every_client(firm: Firm) -> None:
    contracts = json.loads((firm.root / "salesforce/contracts.json").read_text())["records"]
    accounts = json.loads((firm.root / "salesforce/accounts.json").read_text())["records"]
    assert {c["Status"] for c in contracts} == {"Draft", "Activated", "Terminated", "Expired"}
    per_account = defaultdict(int)
    for contract in contracts:
        per_account[contract["AccountId"]] += 1
        assert contract["Id"].startswith("800") and len(contract["Id"]) == 18
        assert contract["Data_Product__c"] in {"nav_history", "performance", "esg", "prices"}
        assert contract["ADX_Provisioned__c"] is False
        assert contract["StartDate"] < contract["EndDate"]
    assert set(per_account) == {a["Id"] for a in accounts}
    assert all(1 <= n <= 3 for n in per_account.values())


def test_scales_have_the_documented_sizes() -> None:
    sizes = {
        name: (s.portfolios, s.clients, s.composites, s.securities, s.benchmarks, s.trading_days)
        for name, s in SCALES.items()
    }
    assert sizes == {
        "small": (12, 6, 3, 40, 3, 60),
        "medium": (100, 30, 8, 300, 5, 504),
        "large": (1000, 250, 50, 2000, 10, 1260),
    }


def test_end_date_on_a_holiday_ends_at_the_session_before(tmp_path: Path) -> None:
    manifest = generate_firm(tmp_path / "firm", end_date=dt.date(2026, 9, 7))  # Labor Day
    assert manifest["end_date"] == "2026-09-04"
    assert (tmp_path / "firm/bloomberg/prices/2026-09-04.csv").exists()


def test_progress_reports_every_stage_to_completion(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    generate_firm(tmp_path / "firm", progress=lambda stage, done, total: calls.append((stage, done, total)))
    finished = [stage for stage, done, total in calls if done == total]
    assert finished == ["reference", "market_data", "trading", "cdc_capture", "salesforce", "write"]
    assert all(0 <= done <= total for _, done, total in calls)


# -- the output folder -----------------------------------------------------------------------------


def test_refuses_a_non_empty_folder_without_firm_json(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match=str(tmp_path)):
        generate_firm(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_regenerating_over_a_firm_replaces_its_content(firm: Firm, tmp_path: Path) -> None:
    out = tmp_path / "firm"
    generate_firm(out, seed=8)
    (out / "stray.txt").write_text("left over")
    manifest = generate_firm(out, seed=7)
    assert not (out / "stray.txt").exists()
    assert manifest == firm.manifest
