"""Topic contracts: the fields each Aladdin CDC topic must carry, and their types."""

from __future__ import annotations

from dataclasses import dataclass

#: Logical field types of a contract, mapped to Arrow/Iceberg types by the bronze writer: ``int`` is a
#: 64-bit integer (Debezium's INT64), ``decimal`` an exact number at the field's precision and scale.
FIELD_TYPES = ("string", "int", "decimal", "date")


@dataclass(frozen=True)
class FieldSpec:
    """One field of a row image: its name, logical type, whether it is required, and for a
    ``decimal`` its precision (total digits) and scale (digits after the point)."""

    name: str
    type: str
    required: bool = True
    precision: int = 0
    scale: int = 0

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r}, expected one of {FIELD_TYPES}")
        # precision + scale + 1 <= 38: the vectorized parser compares values with 10^(precision - scale) in 128 bits
        if self.type == "decimal" and not (0 <= self.scale <= self.precision and self.precision + self.scale < 38):
            raise ValueError(f"field {self.name!r}: decimal({self.precision},{self.scale}) is not a supported decimal")


def decimal(name: str, precision: int, scale: int) -> FieldSpec:
    """A required decimal field."""
    return FieldSpec(name, "decimal", precision=precision, scale=scale)


@dataclass(frozen=True)
class TopicContract:
    """The contract of one CDC topic: which table it captures, its key and its row-image fields."""

    topic: str
    table: str
    key_field: str
    fields: tuple[FieldSpec, ...]
    version: int = 2

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of the row-image fields, in contract order."""
        return tuple(f.name for f in self.fields)


#: Quantities: 18 integer digits (a 17-digit quantity lands exactly), 6 decimals (fractional units).
QUANTITY_PRECISION, QUANTITY_SCALE = 24, 6
#: Prices: 16 integer digits, 8 decimals.
PRICE_PRECISION, PRICE_SCALE = 24, 8
#: Cash amounts: 20 integer digits, 4 decimals (cents, and the currencies with 3 or 4 minor digits).
AMOUNT_PRECISION, AMOUNT_SCALE = 24, 4

TRADES = TopicContract(
    topic="aladdin.trades",
    table="trades",
    key_field="trade_id",
    fields=(
        FieldSpec("trade_id", "string"),
        FieldSpec("portfolio_id", "string"),
        FieldSpec("security_id", "string"),
        FieldSpec("side", "string"),
        decimal("quantity", QUANTITY_PRECISION, QUANTITY_SCALE),
        decimal("price", PRICE_PRECISION, PRICE_SCALE),
        FieldSpec("currency", "string"),
        FieldSpec("trade_date", "date"),
        FieldSpec("settle_date", "date"),
        FieldSpec("version", "int"),
    ),
)

CASH_FLOWS = TopicContract(
    topic="aladdin.cash_flows",
    table="cash_flows",
    key_field="flow_id",
    fields=(
        FieldSpec("flow_id", "string"),
        FieldSpec("portfolio_id", "string"),
        FieldSpec("flow_date", "date"),
        decimal("amount", AMOUNT_PRECISION, AMOUNT_SCALE),
        FieldSpec("currency", "string"),
        FieldSpec("flow_type", "string"),
        FieldSpec("version", "int"),
    ),
)

#: Contracts by topic name.
CONTRACTS: dict[str, TopicContract] = {c.topic: c for c in (TRADES, CASH_FLOWS)}

#: Allowed values checked beyond types.
ALLOWED_VALUES: dict[tuple[str, str], frozenset[str]] = {
    ("aladdin.trades", "side"): frozenset({"BUY", "SELL"}),
    ("aladdin.cash_flows", "flow_type"): frozenset({"SUBSCRIPTION", "REDEMPTION"}),
}
