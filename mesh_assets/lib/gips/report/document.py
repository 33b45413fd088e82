"""The GIPS composite report as plain data: statistics table, chart series, disclosures, inputs.

Everything the HTML, PDF, CSV and JSON renderings show comes from this one dict, so the four agree.
The dict holds only JSON types, with NaN turned into ``None``: the JSON is byte-stable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from mesh_assets.lib.gips.annual_statistics import DISPERSION_MEASURES, RISK_MONTHS
from mesh_assets.lib.gips.composite_monthly import WEIGHTING_METHODS, cumulative_returns
from mesh_assets.lib.gips.fees import FeeTier, describe_schedule
from mesh_assets.lib.gips.membership import MembershipPolicy
from mesh_assets.lib.gips.report.disclosures import FIRM_DEFINITION, FIRM_NAME, VERIFIED_PERIODS, required_disclosures

#: Years a GIPS report presents (at least five, building up to ten).
PRESENTED_YEARS = 10


def clean(value: Any) -> Any:
    """``value`` with NaN/inf floats as None and numpy scalars as Python ones, recursively."""
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def build_report(
    *,
    report_year: int,
    composite: Mapping[str, Any],
    benchmark: Mapping[str, Any],
    statistics: Sequence[Mapping[str, Any]],
    composite_monthly: pd.DataFrame,
    fee_schedule: Sequence[FeeTier],
    policy: MembershipPolicy,
    weighting_method: str,
    dispersion_measure: str,
    inputs: Mapping[str, Any],
) -> dict[str, Any]:
    """The report of ``composite`` for ``report_year``: the statistics of up to 10 years ending there."""
    rows = sorted((dict(s) for s in statistics if int(s["year"]) <= report_year), key=lambda s: s["year"])
    rows = rows[-PRESENTED_YEARS:]
    if not rows or rows[-1]["year"] != report_year:
        raise ValueError(f"composite {composite['composite_id']}: no statistics for {report_year} to report")
    first_year = rows[0]["year"]
    months = composite_monthly[(composite_monthly["month"] >= f"{first_year}-01")
                               & (composite_monthly["month"] <= f"{report_year}-12")]
    cumulative = cumulative_returns(months)
    fees = [{"up_to": t.up_to, "bps": t.bps} for t in fee_schedule]
    methodology_text = (
        "Portfolios are valued daily at the NYSE close; external cash flows are booked at the close, so daily "
        "returns are true time-weighted returns, linked geometrically into monthly returns. Composite returns are "
        f"{WEIGHTING_METHODS[weighting_method]}. Annual returns link the monthly composite returns; returns for "
        "periods under one year are not annualised.")
    disclosures = required_disclosures(
        composite=composite, benchmark=benchmark, fee_schedule_text=describe_schedule(fee_schedule),
        dispersion_text=(f"Internal dispersion is the {DISPERSION_MEASURES[dispersion_measure]}. It is not "
                         "presented (n/m) when 5 or fewer portfolios were in the composite for the full year."),
        risk_months=RISK_MONTHS, membership_text=policy.describe(), methodology_text=methodology_text)
    report = {
        "title": "GIPS Composite Report",
        "firm": {"name": FIRM_NAME, "definition": FIRM_DEFINITION, "verified": VERIFIED_PERIODS is not None,
                 "verified_periods": VERIFIED_PERIODS},
        "composite": {k: composite[k] for k in ("composite_id", "composite_name", "description", "strategy",
                                                "currency", "inception_date", "creation_date")},
        "benchmark": {k: benchmark[k] for k in ("benchmark_id", "benchmark_name", "provider")},
        "report_year": report_year,
        "period_start": rows[0]["period_start"],
        "period_end": rows[-1]["period_end"],
        "fee_schedule": fees,
        "membership_policy": policy.as_dict(),
        "statistics": rows,
        "cumulative": cumulative.to_dict(orient="records"),
        "disclosures": disclosures,
        "methodology": {
            "portfolio_returns": "daily true time-weighted returns r = (EMV - CF) / BMV - 1, linked by month",
            "composite_returns": WEIGHTING_METHODS[weighting_method],
            "weighting_method": weighting_method,
            "net_of_fees": "(1 + gross) * (1 - tiered annual fee on the month's begin value / 12) - 1",
            "dispersion": DISPERSION_MEASURES[dispersion_measure],
            "dispersion_measure": dispersion_measure,
            "risk": f"sample standard deviation of the latest {RISK_MONTHS} monthly returns, times sqrt(12)",
            "standards": "GIPS 2020 Standards for Firms",
        },
        "inputs": {**clean(dict(inputs)), "fingerprint": input_fingerprint(inputs)},
    }
    return clean(report)


def input_fingerprint(inputs: Mapping[str, Any]) -> str:
    """``sha256:`` of the canonical JSON of the inputs (snapshot ids and content hashes of every table read)."""
    import hashlib
    import json

    canonical = json.dumps(clean(dict(inputs)), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
