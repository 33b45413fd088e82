"""The GIPS Composite Report renders to self-contained HTML and to a deterministic PDF that poppler can read."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mesh_assets.lib.gips.report.chart import cumulative_return_svg
from mesh_assets.lib.gips.report.formatting import millions, percent, statistics_table
from mesh_assets.lib.gips.report.html import render_html
from mesh_assets.lib.gips.report.pdf import render_pdf

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DISPERSION_NOTE = "not meaningful: 5 or fewer portfolios in the composite for the full year"
STD_NOTE = "not presented: fewer than 36 monthly returns"
DISCLOSURE_TITLES = ["Definition of the firm", "Composite description", "Benchmark", "Fee schedule", "Currency",
                     "Dispersion", "Membership policy", "Methodology"]


def sample_report() -> dict[str, Any]:
    """A one-year (partial) report shaped like the GIPS report asset's output."""
    return {
        "title": "GIPS Composite Report",
        "firm": {"name": "Investment Data Mesh Asset Management",
                 "definition": "Investment Data Mesh Asset Management is an independent investment adviser "
                               "managing institutional separate accounts."},
        "composite": {"composite_id": "CMP-01", "composite_name": "US Large Cap Core",
                      "description": "Fully discretionary US large cap equity portfolios benchmarked to the S&P 500.",
                      "strategy": "US Large Cap Core", "currency": "USD", "inception_date": "2026-08-05",
                      "creation_date": "2026-08-21"},
        "benchmark": {"benchmark_id": "BM-01", "benchmark_name": "S&P 500", "provider": "S&P Dow Jones Indices"},
        "report_year": 2026,
        "period_start": "2026-09-01",
        "period_end": "2026-10-30",
        "fee_schedule": [{"up_to": 50000000, "bps": 75}, {"up_to": None, "bps": 50}],
        "membership_policy": {"join": "First full month under management.", "leave": "Last full month.",
                              "significant_cash_flow_pct": 10.0, "min_portfolio_size": 1000000},
        "statistics": [
            {"year": 2026, "period_start": "2026-09-01", "period_end": "2026-10-30", "partial_period": True,
             "gross_return": 0.0123, "net_return": 0.0111, "benchmark_return": 0.0150,
             "portfolios": 4, "composite_assets": 123456789.0, "firm_assets": 987654321.0,
             "percent_of_firm_assets": 0.125,
             "dispersion": None, "dispersion_note": DISPERSION_NOTE,
             "composite_3yr_std": None, "benchmark_3yr_std": None, "std_note": STD_NOTE},
        ],
        "cumulative": [
            {"month": "2026-09", "composite_gross": 0.004, "composite_net": 0.0034, "benchmark": 0.006},
            {"month": "2026-10", "composite_gross": 0.0123, "composite_net": 0.0111, "benchmark": 0.0150},
        ],
        "disclosures": [{"title": title, "text": f"{title} disclosure text for 2026 <as presented> & signed off."}
                        for title in DISCLOSURE_TITLES],
        "methodology": {"portfolio_returns": "Modified Dietz, geometrically linked daily.",
                        "composite_returns": "Asset-weighted by beginning-of-period market value.",
                        "net_of_fees": "Gross returns reduced by the highest model fee.",
                        "dispersion": "Asset-weighted standard deviation of full-year portfolio returns.",
                        "risk": "Three-year annualized ex-post standard deviation of monthly returns."},
        "inputs": {"fingerprint": "sha256:" + "ab12" * 16,
                   "tables": {"gold.performance.daily_returns": {"rows": 1234, "sha256": "cd34" * 16}}},
    }


def poppler(tool: str) -> str:
    """The path of a poppler-utils tool; the test fails (never skips) when it is missing."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"`{tool}` not found: install poppler-utils (`apt-get install poppler-utils`) to run this test")
    return path


def test_formatting_helpers():
    assert percent(0.0123) == "1.23"
    assert percent(-0.000001) == "0.00"
    assert percent(None) == "n/a"
    assert millions(123456789.0) == "123.5"
    assert millions(1234567890.0) == "1,234.6"


def test_statistics_table_footnotes_are_numbered_once_per_note():
    report = sample_report()
    second = copy.deepcopy(report["statistics"][0])
    second.update(year=2027, partial_period=False, dispersion=0.0042, composite_3yr_std=None)
    report["statistics"].append(second)
    table = statistics_table(report)
    assert table.notes == [DISPERSION_NOTE, STD_NOTE]
    assert [c.text for c in table.rows[0]] == [
        "2026 (partial: 2026-09-01 to 2026-10-30)", "1.23", "1.11", "1.50", "4", "123.5", "987.7", "12.50",
        "n/m", "n/a", "n/a"]
    assert [(c.text, c.note) for c in table.rows[0][8:]] == [("n/m", 1), ("n/a", 2), ("n/a", 2)]
    assert [(c.text, c.note) for c in table.rows[1][8:]] == [("0.42", None), ("n/a", 2), ("n/a", 2)]


def test_html_is_self_contained_escaped_and_deterministic():
    report = sample_report()
    html = render_html(report)
    assert html == render_html(sample_report())
    assert html.startswith("<!DOCTYPE html>")
    assert "US Large Cap Core" in html
    assert "Investment Data Mesh Asset Management" in html
    for row in report["statistics"]:
        assert str(row["year"]) in html
    assert "2026 (partial: 2026-09-01 to 2026-10-30)" in html
    assert DISPERSION_NOTE in html
    assert STD_NOTE in html
    for title in DISCLOSURE_TITLES:
        assert title in html
    assert "<svg" in html
    assert "&lt;as presented&gt; &amp; signed off" in html  # report text is escaped...
    assert "<as presented>" not in html
    assert "S&amp;P 500" in html  # ...in the page and in the chart
    assert report["inputs"]["fingerprint"] in html
    assert "<link" not in html and "<script" not in html  # nothing is fetched from elsewhere


def test_svg_is_deterministic_and_inline_ready():
    svg = cumulative_return_svg(sample_report())
    assert svg == cumulative_return_svg(sample_report())
    assert svg.startswith("<svg")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
    assert "Sep 2026" in svg and "Oct 2026" in svg


def test_pdf_is_deterministic_and_readable_by_poppler(tmp_path: Path):
    pdftoppm, pdftotext = poppler("pdftoppm"), poppler("pdftotext")
    pdf = render_pdf(sample_report())
    assert pdf.startswith(b"%PDF")
    assert render_pdf(sample_report()) == pdf

    pdf_path = tmp_path / "report.pdf"
    pdf_path.write_bytes(pdf)
    subprocess.run([pdftoppm, "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf_path), str(tmp_path / "page")],
                   check=True, timeout=120, capture_output=True)
    pngs = sorted(tmp_path.glob("page*.png"))
    assert len(pngs) == 1, pngs
    png = pngs[0].read_bytes()
    assert len(png) > len(PNG_SIGNATURE)
    assert png.startswith(PNG_SIGNATURE)

    text = subprocess.run([pdftotext, "-layout", str(pdf_path), "-"], check=True, timeout=120,
                          capture_output=True, text=True).stdout
    assert "US Large Cap Core" in text
    assert "2026" in text
    assert DISPERSION_NOTE in text
    assert "sha256:" + "ab12" * 16 in text
    assert "Page 1 of " in text
