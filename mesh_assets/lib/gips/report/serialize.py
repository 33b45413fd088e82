"""Byte-stable JSON and CSV renderings of a GIPS report (same inputs, same bytes)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

#: Columns of the statistics CSV, in the order the GIPS table presents them.
STATISTICS_COLUMNS = (
    "year", "period_start", "period_end", "partial_period", "gross_return", "net_return", "benchmark_return",
    "portfolios", "composite_assets", "firm_assets", "percent_of_firm_assets", "dispersion", "dispersion_note",
    "composite_3yr_std", "benchmark_3yr_std", "std_note",
)


def report_json(report: Mapping[str, Any]) -> bytes:
    """The report as JSON: sorted keys, two-space indent, no NaN, a trailing newline."""
    return (json.dumps(report, sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n").encode()


def statistics_csv(report: Mapping[str, Any]) -> bytes:
    """The statistics table as CSV (``\\n`` line ends; floats as Python's shortest round-trip repr)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(STATISTICS_COLUMNS)
    for row in report["statistics"]:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in STATISTICS_COLUMNS])
    return buffer.getvalue().encode()
