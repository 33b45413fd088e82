"""Quarantined trades and cash flows: held back from silver, reported here until fixed at the source."""

from __future__ import annotations

from dagster import AssetCheckSpec

from mesh_assets.lib.quality import Verdict
from mesh_assets.warehouse.checks.in_step import InStepCheck
from mesh_assets.warehouse.checks.window import CheckWindow, silver
from resources.warehouse import WarehouseResource

QUARANTINE = silver("aladdin", "quarantined_events")


def no_quarantined_events(warehouse: WarehouseResource, _window: CheckWindow) -> Verdict:
    """Count quarantined events by table and reason."""
    rows = warehouse.query("""
        select source_table, record_key, portfolio_id, event_date, quarantine_reason, reason,
               source_partition, source_offset
        from silver.quarantined_events order by source_table, record_key
    """).to_pylist()
    by_reason: dict[str, int] = {}
    for row in rows:
        name = f"{row['source_table']}:{row['quarantine_reason']}"
        by_reason[name] = by_reason.get(name, 0) + 1
    metadata = {"quarantined": len(rows), "by_reason": by_reason,
                "samples": [{**r, "event_date": str(r["event_date"])} for r in rows[:10]]}
    if rows:
        description = f"{len(rows)} events quarantined ({by_reason}); first: {rows[0]['reason']}"
        return Verdict(False, description, metadata)
    return Verdict(True, "no trade or cash flow is quarantined", metadata)


CHECKS = [InStepCheck(AssetCheckSpec(
    "no_quarantined_events", asset=QUARANTINE,
    description="Fails while any trade or cash flow is held back from silver (unknown portfolio or security, "
                "non-positive quantity or price, contradictory flow), with samples."), no_quarantined_events)]
