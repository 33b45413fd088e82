"""``generate_firm``: the whole synthetic firm, deterministic in (scale, seed, end date)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

from mesh_dev.firm.booking_errors import book_changes
from mesh_dev.firm.cdc_capture import TOPICS, capture_changes
from mesh_dev.firm.change_events import CASH_FLOWS, TRADES, RowKey
from mesh_dev.firm.history_window import build_window
from mesh_dev.firm.market_data import (
    BENCHMARK_HEADER,
    PRICE_HEADER,
    benchmark_deliveries,
    build_market_data,
    late_price_records,
    price_deliveries,
)
from mesh_dev.firm.randomness import stage_rng
from mesh_dev.firm.reference import build_reference
from mesh_dev.firm.reference_tables import reference_tables
from mesh_dev.firm.salesforce_export import build_salesforce_export
from mesh_dev.firm.scales import get_scale
from mesh_dev.firm.trading import simulate_trading
from mesh_dev.firm.writer import MANIFEST_NAME, FirmWriter

DEFAULT_END_DATE = dt.date(2026, 10, 30)
Progress = Callable[[str, int, int], None]


def prepare_out_dir(out_dir: Path) -> None:
    """Create ``out_dir``; empty it first if it holds a previous firm; refuse any other content."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ValueError(f"{out_dir} exists and is not a folder")
        if any(out_dir.iterdir()):
            if not (out_dir / MANIFEST_NAME).is_file():
                raise ValueError(f"{out_dir} is not empty and holds no {MANIFEST_NAME}; refusing to overwrite it")
            shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


def generate_firm(
    out_dir: Path,
    scale: str = "small",
    seed: int = 7,
    end_date: dt.date = DEFAULT_END_DATE,
    progress: Progress | None = None,
) -> dict:
    """Write a synthetic firm into ``out_dir`` and return its manifest (also written as ``firm.json``).

    ``progress(stage, done, total)``, when given, is called as the stages advance. The same
    ``(scale, seed, end_date)`` always produces byte-identical files.
    """
    report: Progress = progress or (lambda stage, done, total: None)
    firm_scale = get_scale(scale)
    window = build_window(end_date, firm_scale.trading_days)
    out_dir = Path(out_dir)
    prepare_out_dir(out_dir)

    report("reference", 0, 1)
    reference = build_reference(firm_scale, window, stage_rng(seed, "reference"))
    report("reference", 1, 1)
    report("market_data", 0, 1)
    market = build_market_data(
        len(window.days),
        firm_scale.securities,
        firm_scale.benchmarks,
        firm_scale.late_prices,
        stage_rng(seed, "market_data"),
    )
    report("market_data", 1, 1)
    report("trading", 0, 1)
    book = simulate_trading(reference, market.closes_micro, window, firm_scale, stage_rng(seed, "trading"))
    report("trading", 1, 1)
    report("cdc_capture", 0, 1)
    log = book_changes(book, reference, market.closes_micro, window, firm_scale, stage_rng(seed, "booking_errors"))
    capture = capture_changes(
        log, window, firm_scale, stage_rng(seed, "cdc_capture"), stage_rng(seed, "malformed_records")
    )
    report("cdc_capture", 1, 1)
    report("salesforce", 0, 1)
    salesforce = build_salesforce_export(reference, window, stage_rng(seed, "salesforce"))
    report("salesforce", 1, 1)

    writer = FirmWriter(out_dir)
    tables = reference_tables(reference, window)
    n_days = len(window.days)
    total = len(tables) + 2 * n_days + len(TOPICS) + len(salesforce)
    price_rows = benchmark_rows = 0
    done = 0
    report("write", done, total)
    for relative, (header, rows) in tables.items():
        writer.csv(relative, header, rows)
        done += 1
        report("write", done, total)
    for relative, rows in price_deliveries(market, reference, window):
        writer.csv_lines(relative, PRICE_HEADER, rows)
        price_rows += len(rows)
        done += 1
        report("write", done, total)
    for relative, rows in benchmark_deliveries(market, reference, window):
        writer.csv_lines(relative, BENCHMARK_HEADER, rows)
        benchmark_rows += len(rows)
        done += 1
        report("write", done, total)
    for table, topic in TOPICS.items():
        writer.jsonl(f"aladdin/cdc/{topic}.jsonl", capture.lines(table))
        done += 1
        report("write", done, total)
    for relative, body in salesforce.items():
        writer.query_result(relative, body)
        done += 1
        report("write", done, total)

    manifest = {
        "scale": firm_scale.name,
        "seed": seed,
        "start_date": window.start.isoformat(),
        "end_date": window.end.isoformat(),
        "trading_days": len(window.days),
        "kafka_partitions": firm_scale.kafka_partitions,
        "counts": {
            "clients": len(reference.clients),
            "composites": len(reference.composites),
            "portfolios": len(reference.portfolios),
            "securities": len(reference.securities),
            "benchmarks": len(reference.benchmarks),
            "price_rows": price_rows,
            "benchmark_rows": benchmark_rows,
            "trade_records": capture.count(TRADES),
            "cash_flow_records": capture.count(CASH_FLOWS),
            "accounts": salesforce["salesforce/accounts.json"]["totalSize"],
            "contracts": salesforce["salesforce/contracts.json"]["totalSize"],
        },
        "files": writer.files,
        "edge_cases": {
            "corrected_trades": _ids(log.corrected_trades),
            "cancelled_trades": _ids(log.cancelled_trades),
            "rebooked_trades": _ids(log.rebooked_trades),
            "corrected_cash_flows": _ids(log.corrected_cash_flows),
            "late_prices": late_price_records(market, reference, window),
            "large_cash_flows": _ids(log.large_cash_flows),
            "price_discrepancy_trades": _ids(log.price_discrepancy_trades),
            "composite_entries": reference.composite_entries,
            "composite_exits": reference.composite_exits,
            "out_of_order_ts": _by_position(capture.out_of_order_ts),
            "malformed_records": _by_position(capture.malformed_records),
            "tombstones": _by_position(capture.tombstones),
        },
    }
    writer.manifest(manifest)
    return manifest


def _ids(rows: tuple[RowKey, ...]) -> list[str]:
    return sorted(row.id for row in rows)


def _by_position(entries: list[dict]) -> list[dict]:
    return sorted(entries, key=lambda e: (e["topic"], e["partition"], e["offset"]))
