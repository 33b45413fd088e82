"""Asset-check evaluations as plain records, and their rows in ``audit.check_results`` (no Dagster import)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mesh_assets.lib.audit.tables import CHECK_RESULTS

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class CheckEvaluation:
    """One asset-check evaluation read from the event log, with plain Python values only.

    ``metadata`` holds the check's own metadata (already unwrapped from Dagster's metadata values); no
    run config, tags or resource settings ever reach this record, so nothing secret is archived.
    """

    event_storage_id: int
    run_id: str
    asset_key: str
    check_name: str
    passed: bool
    severity: str
    evaluated_at: dt.datetime
    job_name: str | None = None
    code_location: str | None = None
    partition_key: str | None = None
    blocking: bool | None = None
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    target_materialization_storage_id: int | None = None
    target_materialization_run_id: str | None = None

    def __post_init__(self) -> None:
        if self.evaluated_at.tzinfo is None:
            raise ValueError(f"evaluated_at of event {self.event_storage_id} must be timezone-aware")


def jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data, recursively: non-finite floats as ``"NaN"``/``"Infinity"``/``"-Infinity"``,
    dates and times as ISO strings, sets as sorted lists, bytes as hex, anything else as ``str``."""
    import decimal

    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, decimal.Decimal):
        return jsonable(float(value))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return str(value)


def metadata_json(metadata: Mapping[str, Any]) -> str:
    """Canonical JSON of a check's metadata: sorted keys, no whitespace, strictly valid (no NaN literals)."""
    return json.dumps(jsonable(metadata), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def check_results_rows(evaluations: Iterable[CheckEvaluation], ingested_at: dt.datetime) -> pa.Table:
    """The ``audit.check_results`` rows of ``evaluations`` (in the given order), stamped ``ingested_at``."""
    import pyarrow as pa

    items = list(evaluations)
    columns: dict[str, list[Any]] = {
        "event_storage_id": [e.event_storage_id for e in items],
        "run_id": [e.run_id for e in items],
        "job_name": [e.job_name for e in items],
        "code_location": [e.code_location for e in items],
        "asset_key": [e.asset_key for e in items],
        "check_name": [e.check_name for e in items],
        "partition_key": [e.partition_key for e in items],
        "passed": [e.passed for e in items],
        "severity": [e.severity for e in items],
        "blocking": [e.blocking for e in items],
        "description": [e.description for e in items],
        "metadata_json": [metadata_json(e.metadata) for e in items],
        "target_materialization_storage_id": [e.target_materialization_storage_id for e in items],
        "target_materialization_run_id": [e.target_materialization_run_id for e in items],
        "evaluated_at": [e.evaluated_at.astimezone(dt.UTC) for e in items],
        "ingested_at": [ingested_at.astimezone(dt.UTC)] * len(items),
    }
    schema = CHECK_RESULTS.schema
    return pa.Table.from_pydict({name: columns[name] for name in schema.names}, schema=schema)
