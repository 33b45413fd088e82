"""A long range of trading days built by dbt a piece at a time, reported as one build.

On one Trino node, the large firm's full history (1,260 days, ~40M positions) in one ``dbt build`` made a
uniqueness test or the product prices' distinct aggregate ~40M groups in one query: past the node's query memory,
so Trino spilled them to disk (a 46 s test; 1.9 s for a year of it). With ``days_per_build`` set
(:class:`resources.dbt.DbtWarehouseResource`), a range longer than that is built by one invocation per piece of
at most that many trading days, oldest first (a daily model's day depends only on that day and the days before
it). The step still reports one materialization per model (its rows over the whole range) and one result per dbt
test: failed if it failed on any piece, with every piece's verdict; a piece that fails stops the build there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagster import AssetCheckKey, AssetCheckResult, AssetCheckSeverity, MetadataValue

#: dagster-dbt's metadata key of a test's failing row count.
FAILED_ROWS = "dagster_dbt/failed_row_count"


def build_windows(window: Mapping[str, str], days: Sequence[str], days_per_build: int | None) -> list[dict[str, str]]:
    """``window`` (``start_date``/``end_date``) cut into consecutive pieces of at most ``days_per_build`` of its
    trading ``days``; the window itself when it is empty, fits, or no limit is set."""
    if not window or not days_per_build or len(days) <= days_per_build:
        return [dict(window)]
    if days_per_build < 1:
        raise ValueError(f"days_per_build must be at least 1, not {days_per_build}")
    pieces = [days[i:i + days_per_build] for i in range(0, len(days), days_per_build)]
    return [{"start_date": piece[0], "end_date": piece[-1]} for piece in pieces]


def _window_label(piece: Mapping[str, str]) -> str:
    return f"{piece.get('start_date', 'all history')}..{piece.get('end_date', '')}".rstrip(".")


@dataclass
class EarlierPieces:
    """What the pieces built before the current one reported: each model's rows of their days and each test's
    result per piece."""

    window_rows: dict[str, int] = field(default_factory=dict)
    checks: dict[AssetCheckKey, list[tuple[dict[str, str], AssetCheckResult]]] = field(default_factory=dict)

    def add(self, piece: Mapping[str, str], counts: Mapping[str, Mapping[str, Any]],
            checks: Sequence[AssetCheckResult]) -> None:
        """Record a finished piece: row counts by model unique id, and its test results."""
        for unique_id, count in counts.items():
            if count.get("window_rows") is not None:
                self.window_rows[unique_id] = self.window_rows.get(unique_id, 0) + int(count["window_rows"])
        for result in checks:
            key = AssetCheckKey(result.asset_key, result.check_name)
            self.checks.setdefault(key, []).append((dict(piece), result))

    def count(self, unique_id: str, count: Mapping[str, Any]) -> dict[str, Any]:
        """The model's counts over the whole range: the table's rows now, and the window rows of every piece."""
        if unique_id not in self.window_rows:
            return dict(count)
        return {**count, "window_rows": self.window_rows[unique_id] + int(count.get("window_rows") or 0)}

    def combined(self, piece: Mapping[str, str], result: AssetCheckResult) -> AssetCheckResult:
        """The test's result over the whole range: the last piece's ``result`` when no piece failed, else the first
        failed piece's (its description and failing rows), with every piece's verdict and the failing rows summed."""
        earlier = self.checks.get(AssetCheckKey(result.asset_key, result.check_name), [])
        if not earlier:
            return result
        results = [*earlier, (dict(piece), result)]
        failed = [(p, r) for p, r in results if not r.passed]
        base_piece, base = failed[0] if failed else results[-1]
        rows = [int(_value(r.metadata.get(FAILED_ROWS)) or 0) for _p, r in results]
        pieces = [{"first_day": p.get("start_date"), "last_day": p.get("end_date"), "passed": r.passed,
                   "failed_rows": n} for (p, r), n in zip(results, rows, strict=True)]
        severity = AssetCheckSeverity.ERROR if any(r.severity == AssetCheckSeverity.ERROR for _p, r in failed) \
            else base.severity
        description = base.description
        if failed:
            description = (f"failed on {len(failed)} of {len(results)} pieces of the range, first on "
                           f"{_window_label(base_piece)}: {base.description or 'see its failing rows'}")
        return AssetCheckResult(
            asset_key=base.asset_key, check_name=base.check_name, passed=not failed, severity=severity,
            description=description,
            metadata={**base.metadata, FAILED_ROWS: MetadataValue.int(sum(rows)), "pieces": MetadataValue.json(pieces)},
        )


def _value(entry: Any) -> Any:
    """A metadata entry's plain value (entries arrive as ``MetadataValue`` or as plain values)."""
    return getattr(entry, "value", entry)
