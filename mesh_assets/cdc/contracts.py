"""Topic contracts: the fields each Aladdin CDC topic must carry, and their types."""

from __future__ import annotations

from dataclasses import dataclass

#: Logical field types of a contract, mapped to Arrow/Iceberg types by the bronze writer.
FIELD_TYPES = ("string", "int", "double", "date")


@dataclass(frozen=True)
class FieldSpec:
    """One field of a row image: its name, logical type and whether it is required."""

    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class TopicContract:
    """The contract of one CDC topic: which table it captures, its key and its row-image fields."""

    topic: str
    table: str
    key_field: str
    fields: tuple[FieldSpec, ...]
    version: int = 1

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of the row-image fields, in contract order."""
        return tuple(f.name for f in self.fields)


TRADES = TopicContract(
    topic="aladdin.trades",
    table="trades",
    key_field="trade_id",
    fields=(
        FieldSpec("trade_id", "string"),
        FieldSpec("portfolio_id", "string"),
        FieldSpec("security_id", "string"),
        FieldSpec("side", "string"),
        FieldSpec("quantity", "double"),
        FieldSpec("price", "double"),
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
        FieldSpec("amount", "double"),
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
