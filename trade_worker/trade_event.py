"""One Debezium CDC event of ``aladdin.trades``, decoded and checked against the topic contract, fast.

The bronze parser (:mod:`mesh_assets.lib.cdc.envelope`) builds column lists for micro-batches of thousands;
the trade stream handles one record at a time and needs both images of a correction, so this module
decodes a single record (orjson) into a :class:`TradeEvent`, or an :class:`InvalidTrade` whose reason
names the partition, offset and trade id. A tombstone (``value`` ``None``, after a delete) decodes to
``None``: it carries no trade.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson

from mesh_assets.lib.cdc.contracts import ALLOWED_VALUES, TRADES
from mesh_assets.lib.cdc.envelope import VALID_OPS
from mesh_assets.lib.cdc.values import excerpt

TOPIC = TRADES.topic
_SIDES = ALLOWED_VALUES[(TOPIC, "side")]
_FIELDS = TRADES.field_names


@dataclass(frozen=True, slots=True)
class TradeImage:
    """A row image of the trades table (the contract's fields, typed)."""

    trade_id: str
    portfolio_id: str
    security_id: str
    side: str
    quantity: float
    price: float
    currency: str
    trade_date: dt.date
    settle_date: dt.date
    version: int

    @property
    def signed_quantity(self) -> float:
        """Shares bought (positive) or sold (negative)."""
        return self.quantity if self.side == "BUY" else -self.quantity

    @property
    def notional(self) -> float:
        """``abs(quantity * price)``."""
        return abs(self.quantity * self.price)


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """A valid CDC event: its Kafka position, Debezium op and images (``before`` for u/d, ``after`` for c/r/u)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    op: str
    ts_ms: int
    lsn: int
    before: TradeImage | None
    after: TradeImage | None

    @property
    def image(self) -> TradeImage:
        """The trade as it now stands: ``after``, or ``before`` for a delete (cancel)."""
        return self.after if self.after is not None else self.before  # type: ignore[return-value]

    @property
    def event_id(self) -> str:
        """Deterministic id ``<topic>-<partition>-<offset>``: a replay after a crash carries the same id."""
        return f"{self.topic}-{self.partition}-{self.offset}"


@dataclass(frozen=True, slots=True)
class InvalidTrade:
    """A record that breaks the contract: its position, what could be read of it, and why."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    trade_id: str | None
    portfolio_id: str | None
    reason_code: str
    reason: str

    @property
    def event_id(self) -> str:
        """``<topic>-<partition>-<offset>``, as for a valid event."""
        return f"{self.topic}-{self.partition}-{self.offset}"


class _Rejected(Exception):
    def __init__(self, code: str, reason: str, image: Any = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.image = image


def _date(name: str, value: Any, which: str) -> dt.date:
    if type(value) is str:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise _Rejected("wrong_type", f"{which}.{name} is {excerpt(value)}, not an ISO date")


def _image(raw: Any, which: str) -> TradeImage:
    """A typed, checked row image; raises :class:`_Rejected` naming the field."""
    if type(raw) is not dict:
        raise _Rejected("missing_image", f"{which} image is {excerpt(raw)}, not an object")
    for name in _FIELDS:
        if raw.get(name) is None:
            raise _Rejected("missing_required_field", f"missing required field '{name}' in {which}", raw)
    trade_id, portfolio_id, security_id = raw["trade_id"], raw["portfolio_id"], raw["security_id"]
    side, currency, quantity, price, version = raw["side"], raw["currency"], raw["quantity"], raw["price"], raw[
        "version"]
    for name, value in (("trade_id", trade_id), ("portfolio_id", portfolio_id), ("security_id", security_id),
                        ("side", side), ("currency", currency)):
        if type(value) is not str:
            raise _Rejected("wrong_type", f"{which}.{name} is {excerpt(value)}, not a string", raw)
    if side not in _SIDES:
        raise _Rejected("invalid_value",
                        f"{which}.side is {excerpt(side, identifier=True)}, not one of {sorted(_SIDES)}", raw)
    for name, value in (("quantity", quantity), ("price", price)):
        if type(value) is not float and type(value) is not int:
            raise _Rejected("wrong_type", f"{which}.{name} is {excerpt(value)}, not a number",
                            raw)
        if not value > 0:
            raise _Rejected("invalid_value",
                            f"{which}.{name} is {excerpt(value)}: must be positive (side gives the sign)", raw)
    if type(version) is not int:
        raise _Rejected("wrong_type", f"{which}.version is {excerpt(version)}, not an int", raw)
    return TradeImage(trade_id, portfolio_id, security_id, side, float(quantity), float(price), currency,
                      _date("trade_date", raw["trade_date"], which), _date("settle_date", raw["settle_date"], which),
                      version)


def _decode(envelope: Any) -> tuple[str, int, int, TradeImage | None, TradeImage | None]:
    if type(envelope) is not dict:
        raise _Rejected("invalid_envelope", f"value is a JSON {type(envelope).__name__}, not an object")
    op = envelope.get("op")
    if op not in VALID_OPS:
        raise _Rejected("unknown_op", f"op is {excerpt(op, identifier=True)}, not one of c/u/d/r")
    ts_ms = envelope.get("ts_ms")
    if type(ts_ms) is not int:
        raise _Rejected("invalid_envelope", f"ts_ms is {excerpt(ts_ms)}, not an integer")
    source = envelope.get("source")
    if type(source) is not dict or type(source.get("lsn")) is not int:
        raise _Rejected("invalid_envelope", "source.lsn is missing or not an integer")
    if source.get("table") not in (None, TRADES.table):
        raise _Rejected("wrong_table", f"source.table is {excerpt(source.get('table'), identifier=True)}, "
                                       f"topic carries '{TRADES.table}'")
    before = _image(envelope.get("before"), "before") if op in ("u", "d") else None
    after = _image(envelope.get("after"), "after") if op != "d" else None
    if before is not None and after is not None:
        for name in ("trade_id", "portfolio_id"):
            if getattr(before, name) != getattr(after, name):
                raise _Rejected("inconsistent_images", f"a correction may not change {name}: before "
                                f"{getattr(before, name)!r}, after {getattr(after, name)!r}")
    return op, ts_ms, source["lsn"], before, after


def _identity(envelope: Any, rejected: _Rejected) -> tuple[str | None, str | None]:
    """Trade and portfolio ids readable from a rejected record, to name it."""
    candidates = [rejected.image]
    if type(envelope) is dict:
        candidates += [envelope.get("after"), envelope.get("before")]
    for image in candidates:
        if type(image) is dict and (image.get("trade_id") is not None or image.get("portfolio_id") is not None):
            trade_id, portfolio_id = image.get("trade_id"), image.get("portfolio_id")
            return (trade_id if type(trade_id) is str else None, portfolio_id if type(portfolio_id) is str else None)
    return None, None


def decode_trade_event(topic: str, partition: int, offset: int, timestamp_ms: int,
                       value: bytes | None) -> TradeEvent | InvalidTrade | None:
    """Decode one Kafka record of the trades topic (``topic`` is the logical name, ``aladdin.trades``).

    Returns ``None`` for a tombstone, an :class:`InvalidTrade` when the record breaks the contract (its
    reason reads ``aladdin.trades/<partition>@<offset> trade <id>: <why>``), else the :class:`TradeEvent`.
    """
    if value is None:
        return None
    envelope: Any = None
    try:
        try:
            envelope = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise _Rejected("invalid_json", f"value is not valid JSON ({exc})") from None
        op, ts_ms, lsn, before, after = _decode(envelope)
    except _Rejected as rejected:
        trade_id, portfolio_id = _identity(envelope, rejected)
        where = f"{topic}/{partition}@{offset} trade {trade_id or '<unknown>'}"
        return InvalidTrade(topic, partition, offset, timestamp_ms, trade_id, portfolio_id, rejected.code,
                            f"{where}: {rejected.reason}")
    return TradeEvent(topic, partition, offset, timestamp_ms, op, ts_ms, lsn, before, after)
