"""The JSON forms a Debezium change event arrives in, reduced to one: the bare envelope.

* bare envelope ``{"op", "ts_ms", "source", "before", "after", ...}`` (``schemas.enable=false``);
* Kafka Connect JsonConverter ``{"schema": {...}, "payload": <envelope>}`` (``schemas.enable=true``, its
  default): the payload is the envelope, and the schema of its ``after``/``before`` struct gives each
  field's logical type (``name``) and ``parameters`` (a Decimal's ``scale``), needed to read base64
  decimals and integer-encoded dates.

Values are decoded with the standard library's JSON reader keeping every number's exact text
(integers unbounded, fractions as :class:`decimal.Decimal`); ``NaN``/``Infinity`` and invalid UTF-8
are not JSON and are refused.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from mesh_assets.lib.cdc.values import Rejected

#: Per image field: (logical type name or None, parameters or None).
FieldSchemas = dict[str, tuple[str | None, dict | None]]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(value: bytes) -> Any:
    """The JSON value of a record's bytes, numbers exact; raises :class:`Rejected` (``invalid_json``)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("invalid_json", f"value is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        reason = str(exc).split(":")[0][:80] if not isinstance(exc, RecursionError) else "nested too deeply"
        raise Rejected("invalid_json", f"value is not valid JSON ({reason})") from None


def is_wrapped(value: Any) -> bool:
    """Whether a decoded value is a JsonConverter ``{"schema", "payload"}`` wrapper."""
    return type(value) is dict and len(value) == 2 and "payload" in value and "schema" in value


def unwrap(value: Any) -> tuple[Any, FieldSchemas]:
    """(envelope, field schemas of its row image); a bare envelope has no field schemas."""
    if not is_wrapped(value):
        return value, {}
    schema = value["schema"]
    return value["payload"], image_field_schemas(schema) if isinstance(schema, dict) else {}


def image_field_schemas(schema: dict) -> FieldSchemas:
    """Logical type and parameters of each field of the envelope schema's ``after`` (else ``before``) struct."""
    out: FieldSchemas = {}
    fields = schema.get("fields")
    if not isinstance(fields, list):
        return out
    for image_name in ("before", "after"):
        for entry in fields:
            if isinstance(entry, dict) and entry.get("field") == image_name and isinstance(entry.get("fields"), list):
                for child in entry["fields"]:
                    if isinstance(child, dict) and isinstance(child.get("field"), str):
                        name = child.get("name")
                        parameters = child.get("parameters")
                        out[child["field"]] = (name if isinstance(name, str) else None,
                                               parameters if isinstance(parameters, dict) else None)  # fmt: skip
    return out
