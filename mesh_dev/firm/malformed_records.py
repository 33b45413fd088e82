"""Poison messages: malformed Debezium records a consumer must reject (and keep out of the truth).

Each one re-states the latest image of an existing row, so applying it by mistake would be visible,
but it carries no new information: skipping it leaves the economic truth intact.
"""

from __future__ import annotations

import orjson

from mesh_dev.firm.change_events import TRADES
from mesh_dev.firm.randomness import DrawStream

TRUNCATED_JSON = "truncated_json"
UNKNOWN_OP = "unknown_op"
MISSING_REQUIRED_FIELD = "missing_required_field"
WRONG_TYPE = "wrong_type"
KINDS = (TRUNCATED_JSON, UNKNOWN_OP, MISSING_REQUIRED_FIELD, WRONG_TYPE)
NUMERIC_FIELD = {TRADES: "quantity"}
DEFAULT_NUMERIC_FIELD = "amount"
TRUNCATE_AT = (0.3, 0.8)  # share of the JSON text a truncated value keeps


def malformed_change(kind: str, table: str, image: dict, draws: DrawStream) -> tuple[str, dict, dict]:
    """The (op, before, after) of a malformed record of ``kind`` about the row whose image is ``image``."""
    if kind == UNKNOWN_OP:
        return "x", image, image
    if kind == MISSING_REQUIRED_FIELD:
        return "u", image, {k: v for k, v in image.items() if k != "portfolio_id"}
    if kind == WRONG_TYPE:
        field = NUMERIC_FIELD.get(table, DEFAULT_NUMERIC_FIELD)
        return "u", image, {**image, field: f"{draws.integer(1, 100)}O{draws.integer(0, 10)}"}
    return "u", image, image


def malformed_value(kind: str, envelope: dict, cut: float) -> str:
    """The serialized value: the envelope as JSON, cut after the share ``cut`` for ``truncated_json``."""
    text = orjson.dumps(envelope, option=orjson.OPT_SORT_KEYS).decode()
    if kind == TRUNCATED_JSON:
        return text[: int(len(text) * cut)]
    return text
