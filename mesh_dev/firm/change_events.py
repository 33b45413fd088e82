"""Row changes of the Aladdin source database (trades and cash_flows tables), before capture.

A ``RowKey`` is one primary key; its number (hence ``T-…``/``F-…`` id) is given out in capture
order, so ids grow with the log. Row images are plain dicts without the id column, which is added
when a change is serialized.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mesh_dev.firm import identifiers as ids

TRADES = "trades"
CASH_FLOWS = "cash_flows"
ID_COLUMN = {TRADES: "trade_id", CASH_FLOWS: "flow_id"}


class RowKey:
    """The primary key of one row of ``table`` in ``portfolio_id``'s partition of the log."""

    __slots__ = ("number", "portfolio_id", "table")

    def __init__(self, table: str, portfolio_id: str) -> None:
        self.table = table
        self.portfolio_id = portfolio_id
        self.number: int | None = None

    @property
    def id(self) -> str:
        """The row id (``T-00000001`` / ``F-00000001``); only valid once numbered."""
        if self.number is None:
            raise RuntimeError("row key not numbered yet")
        return ids.trade_id(self.number) if self.table == TRADES else ids.flow_id(self.number)

    def key(self) -> dict[str, str]:
        """The Kafka message key."""
        return {"portfolio_id": self.portfolio_id, ID_COLUMN[self.table]: self.id}

    def image(self, image: dict) -> dict:
        """``image`` with the id column filled in."""
        return {**image, ID_COLUMN[self.table]: self.id}


@dataclass(slots=True)
class Change:
    """One row change: Debezium ``op`` with before/after images (``tombstone`` marks the Kafka
    tombstone that follows a delete)."""

    row: RowKey
    op: str
    before: dict | None
    after: dict | None
    tombstone: bool = False


@dataclass(slots=True)
class ChangeTx:
    """Changes committed together at ``ts_ms``; ``snapshot`` ones are read by the initial snapshot."""

    ts_ms: int
    seq: int
    snapshot: bool
    changes: list[Change] = field(default_factory=list)
