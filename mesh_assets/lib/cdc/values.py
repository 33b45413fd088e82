"""One CDC value into its contract type, in every encoding Debezium and Kafka Connect send it.

A value that cannot become its column's type exactly raises :class:`Rejected` with a reason code
and a reason that names the field and the rule, showing only a masked excerpt of the value
(:func:`excerpt`: the shape, never the content; the raw bytes stay in the dead letter's bytes).

Encodings read (``logical`` is the Kafka Connect schema ``name`` of the field when the record came
wrapped as ``{"schema", "payload"}``, else ``None``):

* integers: JSON integers within int64; anything else is ``wrong_type``, beyond int64 ``out_of_range``;
* decimals: JSON numbers (their exact text), decimal strings (``decimal.handling.mode=string``),
  base64 big-endian two's-complement bytes with the schema's ``parameters.scale``
  (``org.apache.kafka.connect.data.Decimal``, ``precise`` mode) and ``VariableScaleDecimal`` structs
  ``{"scale": 2, "value": "MDk="}``; more digits than the contract's scale or precision hold is
  ``precision_loss`` (never rounded);
* dates: ISO ``YYYY-MM-DD``, days since the epoch (``io.debezium.time.Date``,
  ``org.apache.kafka.connect.data.Date``), and timestamps that fall exactly on midnight UTC
  (``Timestamp``/``io.debezium.time.Timestamp`` ms, ``MicroTimestamp`` us, ``NanoTimestamp`` ns,
  ``ZonedTimestamp`` ISO text); a time of day is ``precision_loss``, a time-only type ``wrong_type``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_TEXT = re.compile(r"-?[0-9]{1,20}")
_EPOCH = dt.date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_DAY_US = 86_400_000_000
#: Kafka Connect / Debezium logical types of an instant, and the unit of their integer.
_INSTANT_UNITS = {
    "org.apache.kafka.connect.data.Timestamp": 1_000, "io.debezium.time.Timestamp": 1_000,
    "io.debezium.time.MicroTimestamp": 1, "io.debezium.time.NanoTimestamp": -1_000,
}
_TIME_ONLY = frozenset({"org.apache.kafka.connect.data.Time", "io.debezium.time.Time", "io.debezium.time.MicroTime",
                        "io.debezium.time.NanoTime", "io.debezium.time.ZonedTime"})  # fmt: skip
_DATE_TYPES = frozenset({"org.apache.kafka.connect.data.Date", "io.debezium.time.Date"})
CONNECT_DECIMAL = "org.apache.kafka.connect.data.Decimal"
VARIABLE_SCALE_DECIMAL = "io.debezium.data.VariableScaleDecimal"
#: Earliest and latest instants a timestamp column holds (years 1 to 9999), in microseconds since the epoch.
MIN_US = (dt.datetime(1, 1, 1, tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
MAX_US = (dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
          - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)  # fmt: skip


class Rejected(Exception):
    """One record cannot land: ``code`` (e.g. ``out_of_range``) and a reason naming field and rule."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


_IDENTIFIER = re.compile(r"[A-Za-z0-9_.$-]{1,32}")


def excerpt(value: Any, identifier: bool = False) -> str:
    """A short, masked description of a value for a reason: its JSON kind and shape, never its content.

    Letters become ``x``, digits ``9`` (punctuation kept, 12 characters at most): ``'xxxx.xxx@xxxxx…'
    (23 chars)``; numbers give their digit count; objects and arrays their size. ``identifier``: the value
    names a thing of the envelope (an op, a table), not data: shown as is when it looks like a name.
    """
    if identifier and isinstance(value, str) and _IDENTIFIER.fullmatch(value):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return f"an integer of {len(str(abs(value)))} digits" if abs(value) >= 10**6 else "a small integer"
    if isinstance(value, (float, Decimal)):
        if isinstance(value, float) and value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "an infinity"
        return f"a number of {len(str(value))} characters"
    if isinstance(value, str):
        masked = re.sub(r"[0-9]", "9", re.sub(r"[^\W\d_]", "x", value[:12]))
        masked = "".join(c if c.isprintable() and c.isascii() else "?" for c in masked)
        return f"text '{masked}{'…' if len(value) > 12 else ''}' ({len(value)} chars)"
    if isinstance(value, dict):
        return f"an object of {len(value)} keys"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    return f"a {type(value).__name__}"


def to_int64(field: str, value: Any, rule: str = "an int64 integer") -> int:
    """A JSON integer within int64."""
    if type(value) is int:
        if INT64_MIN <= value <= INT64_MAX:
            return value
        raise Rejected("out_of_range", f"field '{field}' must be {rule}: got {excerpt(value)}, beyond ±2^63")
    raise Rejected("wrong_type", f"field '{field}' must be {rule}: got {excerpt(value)}")


def to_tx_id(value: Any) -> int | None:
    """``source.txId``: an int64, also sent as decimal text; absent or null is ``None``."""
    if value is None:
        return None
    if isinstance(value, str):
        if not _INT_TEXT.fullmatch(value):
            raise Rejected("wrong_type", f"field 'source.txId' must be an integer or its text: got {excerpt(value)}")
        value = int(value)
    return to_int64("source.txId", value)


def to_string(field: str, value: Any, allowed: frozenset[str] | None) -> str:
    """A JSON string that is valid Unicode (no lone surrogates), within ``allowed`` when given."""
    if not isinstance(value, str):
        raise Rejected("wrong_type", f"field '{field}' must be text: got {excerpt(value)}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Rejected("invalid_text", f"field '{field}' must be valid Unicode: got {excerpt(value)} "
                                           "with a lone surrogate") from None
    if allowed is not None and value not in allowed:
        raise Rejected("invalid_value", f"field '{field}' must be one of {sorted(allowed)}: got {excerpt(value)}")
    return value


def _unscaled(field: str, text: Any) -> int:
    if not isinstance(text, str):
        raise Rejected("wrong_type", f"field '{field}' must be base64 decimal bytes: got {excerpt(text)}")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Rejected("wrong_type", f"field '{field}' must be base64 decimal bytes: got {excerpt(text)}") from None
    return int.from_bytes(raw, "big", signed=True)


def to_decimal(field: str, value: Any, precision: int, scale: int, logical: str | None = None,
               parameters: dict | None = None) -> Decimal:  # fmt: skip
    """An exact decimal that fits ``decimal(precision, scale)``, from any of its encodings."""
    if isinstance(value, bool):
        raise Rejected("wrong_type", f"field '{field}' must be a decimal number: got {excerpt(value)}")
    if logical == CONNECT_DECIMAL and isinstance(value, str):
        try:
            schema_scale = int((parameters or {})["scale"])
        except (KeyError, TypeError, ValueError):
            raise Rejected("wrong_type", f"field '{field}': Decimal bytes need the schema's parameters.scale") from None
        number = Decimal(f"{_unscaled(field, value)}E{-schema_scale}")  # exact: no context rounding
    elif isinstance(value, dict):
        if set(value) != {"scale", "value"} or type(value["scale"]) is not int or abs(value["scale"]) > 1000:
            raise Rejected("wrong_type", f"field '{field}' must be a decimal: got {excerpt(value)}, "
                                         "not a VariableScaleDecimal {scale, value}")
        number = Decimal(f"{_unscaled(field, value['value'])}E{-value['scale']}")
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        number = Decimal(value)
    else:
        raise Rejected("wrong_type", f"field '{field}' must be a decimal number (JSON number, decimal text, "
                                     f"base64 with a Decimal schema or VariableScaleDecimal): got {excerpt(value)}")
    if not number.is_finite():
        raise Rejected("wrong_type", f"field '{field}' must be a finite decimal: got {excerpt(value)}")
    try:
        exact = number.quantize(Decimal(1).scaleb(-scale))
    except InvalidOperation:
        exact = None
    if exact is None or exact != number or exact.adjusted() >= precision - scale:
        raise Rejected("precision_loss", f"field '{field}' must fit decimal({precision},{scale}) exactly: "
                                         f"got {excerpt(value)} needing more digits")
    return exact + 0  # -0 reads as 0, like Arrow


def _date_of_us(field: str, micros: int, value: Any) -> dt.date:
    if not MIN_US <= micros <= MAX_US:
        raise Rejected("bad_timestamp", f"field '{field}' must be within years 1-9999: got {excerpt(value)}")
    days, rest = divmod(micros, _DAY_US)
    if rest:
        raise Rejected("precision_loss", f"field '{field}' is a date: got {excerpt(value)} with a time of day")
    return dt.date.fromordinal(_EPOCH_ORDINAL + days)


def to_date(field: str, value: Any, logical: str | None = None) -> dt.date:
    """A calendar date from ISO text, days since the epoch, or an instant at midnight UTC."""
    if logical in _TIME_ONLY:
        raise Rejected("wrong_type", f"field '{field}' is a date: got a time of day ({logical})")
    if type(value) is int:
        unit = _INSTANT_UNITS.get(logical or "")
        if unit is None:  # days since the epoch: Debezium's and Kafka Connect's Date
            if not -719_162 <= value <= 2_932_896:
                raise Rejected("bad_timestamp", f"field '{field}' must be within years 1-9999: got {excerpt(value)}")
            return dt.date.fromordinal(_EPOCH_ORDINAL + value)
        if unit < 0 and value % -unit:  # nanoseconds that are not whole microseconds
            raise Rejected("precision_loss", f"field '{field}' is a date: got {excerpt(value)} with a time of day")
        return _date_of_us(field, value * unit if unit > 0 else value // -unit, value)
    if isinstance(value, str):
        if len(value) == 10 and logical not in _INSTANT_UNITS:
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        try:
            instant = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if 10 < len(value) <= 40 else None
        except ValueError:
            instant = None
        if instant is not None:
            if instant.tzinfo is not None:
                instant = instant.astimezone(dt.UTC).replace(tzinfo=None)
            if instant.time() != dt.time(0):
                raise Rejected("precision_loss", f"field '{field}' is a date: got {excerpt(value)} with a time of day")
            return instant.date()
        raise Rejected("bad_timestamp", f"field '{field}' must be an ISO date YYYY-MM-DD: got {excerpt(value)}")
    if logical in _DATE_TYPES:
        raise Rejected("wrong_type", f"field '{field}' must be days since 1970-01-01: got {excerpt(value)}")
    raise Rejected("wrong_type", f"field '{field}' must be an ISO date or days since 1970-01-01: got {excerpt(value)}")


def event_time_us(envelope: dict, source: dict) -> int:
    """The change's time in microseconds since the epoch: ``ts_us``, ``ts_ns`` or ``ts_ms`` of the envelope,
    else of ``source`` (Debezium 2.x sends all three; 1.x ``ts_ms`` only). Nanoseconds are cut to microseconds."""
    for where, holder in (("", envelope), ("source.", source)):
        for name, per_us in (("ts_us", 1), ("ts_ns", -1_000), ("ts_ms", 1_000)):
            value = holder.get(name)
            if value is None:
                continue
            field = f"{where}{name}"
            if type(value) is not int:
                raise Rejected("bad_timestamp", f"field '{field}' must be an integer: got {excerpt(value)}")
            micros = value * per_us if per_us > 0 else value // -per_us
            if not MIN_US <= micros <= MAX_US:
                unit = name[3:]
                raise Rejected("bad_timestamp", f"field '{field}' must be {unit} since 1970 within years 1-9999: "
                                                f"got {excerpt(value)}")
            return micros
    raise Rejected("invalid_envelope", "field 'ts_ms' is missing: neither envelope nor source has ts_ms/ts_us/ts_ns")
