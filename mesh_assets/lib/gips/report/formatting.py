"""Number formatting and the statistics table layout shared by the HTML and PDF renderers.

Report values are plain floats holding fractions (0.0123 is 1.23%) and amounts in the composite's
currency; ``None`` means "not presented" and comes with a note that the table shows as a footnote.
Everything here is pure Python so that both outputs print exactly the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NOT_MEANINGFUL = "n/m"
NOT_AVAILABLE = "n/a"

# Fixed English abbreviations: ``calendar.month_abbr`` follows the process locale.
_MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_METHODOLOGY_LABELS = {
    "portfolio_returns": "Portfolio returns",
    "composite_returns": "Composite returns",
    "net_of_fees": "Net-of-fees returns",
    "dispersion": "Internal dispersion",
    "risk": "Three-year ex-post standard deviation",
}


def percent(value: float | None, decimals: int = 2, *, missing: str = NOT_AVAILABLE, suffix: str = "") -> str:
    """Format a fraction as a percentage number: ``percent(0.0123)`` is ``"1.23"``.

    ``None`` prints as ``missing``; a value that rounds to zero never prints as ``"-0.00"``.
    ``suffix`` is appended to numbers only (for example ``"%"`` outside a column headed "%").
    """
    if value is None:
        return missing
    text = f"{value * 100:,.{decimals}f}"
    if text.startswith("-") and float(text[1:].replace(",", "")) == 0:
        text = text[1:]
    return text + suffix


def millions(value: float | None, decimals: int = 1, *, missing: str = NOT_AVAILABLE) -> str:
    """Format an amount in millions with thousands separators: ``millions(123456789.0)`` is ``"123.5"``."""
    if value is None:
        return missing
    text = f"{value / 1_000_000:,.{decimals}f}"
    if text.startswith("-") and float(text[1:].replace(",", "")) == 0:
        text = text[1:]
    return text


def count(value: int | float | None, *, missing: str = NOT_AVAILABLE) -> str:
    """Format a whole number (such as the number of portfolios) with thousands separators."""
    if value is None:
        return missing
    return f"{round(value):,d}"


def month_label(month: str) -> str:
    """Turn ``"2026-09"`` into ``"Sep 2026"``; anything that is not ``YYYY-MM`` is returned unchanged."""
    year, _, number = month.partition("-")
    if len(year) == 4 and year.isdigit() and number.isdigit() and 1 <= int(number) <= 12:
        return f"{_MONTH_ABBREVIATIONS[int(number) - 1]} {year}"
    return month


def year_label(row: Mapping[str, Any]) -> str:
    """The statistics table's year cell, e.g. ``"2026 (partial: 2026-09-01 to 2026-10-30)"`` for a partial year."""
    label = str(row["year"])
    if row.get("partial_period"):
        label += f" (partial: {row.get('period_start')} to {row.get('period_end')})"
    return label


def methodology_label(key: str) -> str:
    """A reader-facing heading for a key of the report's ``methodology`` mapping."""
    return _METHODOLOGY_LABELS.get(key, key.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Cell:
    """One statistics table cell: its text and, when the value is not presented, its footnote number (1-based)."""

    text: str
    note: int | None = None


@dataclass(frozen=True)
class StatisticsTable:
    """The statistics table as text: column headers, one row of cells per year, and the numbered footnotes."""

    headers: list[str]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)


def statistics_headers(currency: str) -> list[str]:
    """The statistics table's column headers; asset columns name the composite's currency."""
    return [
        "Year",
        "Composite gross return %",
        "Composite net return %",
        "Benchmark return %",
        "Number of portfolios",
        f"Composite assets ({currency} millions)",
        f"Firm assets ({currency} millions)",
        "% of firm assets",
        "Internal dispersion %",
        "3-yr ex-post std composite %",
        "3-yr ex-post std benchmark %",
    ]


def statistics_table(report: Mapping[str, Any]) -> StatisticsTable:
    """Lay out ``report["statistics"]`` (oldest year first) as the GIPS statistics table.

    A missing dispersion prints ``n/m`` and a missing three-year standard deviation prints ``n/a``; each
    carries the row's ``dispersion_note`` / ``std_note`` as a footnote. Identical notes share one number,
    numbered in order of first appearance. Other missing values print ``n/a`` without a note.
    """
    currency = str(report.get("composite", {}).get("currency") or "USD")
    notes: list[str] = []

    def noted(text: str, note: str | None) -> Cell:
        if not note:
            return Cell(text)
        if note not in notes:
            notes.append(note)
        return Cell(text, notes.index(note) + 1)

    rows: list[list[Cell]] = []
    for row in report.get("statistics", []):
        dispersion = row.get("dispersion")
        if dispersion is None:
            dispersion_cell = noted(NOT_MEANINGFUL, row.get("dispersion_note"))
        else:
            dispersion_cell = Cell(percent(dispersion))
        std_cells = []
        for key in ("composite_3yr_std", "benchmark_3yr_std"):
            value = row.get(key)
            std_cells.append(noted(NOT_AVAILABLE, row.get("std_note")) if value is None else Cell(percent(value)))
        rows.append([
            Cell(year_label(row)),
            Cell(percent(row.get("gross_return"))),
            Cell(percent(row.get("net_return"))),
            Cell(percent(row.get("benchmark_return"))),
            Cell(count(row.get("portfolios"))),
            Cell(millions(row.get("composite_assets"))),
            Cell(millions(row.get("firm_assets"))),
            Cell(percent(row.get("percent_of_firm_assets"))),
            dispersion_cell,
            *std_cells,
        ])
    return StatisticsTable(statistics_headers(currency), rows, notes)


def reporting_period(report: Mapping[str, Any]) -> str:
    """The report's period as ``"2026-09-01 to 2026-10-30"``."""
    return f"{report.get('period_start')} to {report.get('period_end')}"


def key_facts(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The header block under the title as (label, value) pairs, in display order."""
    firm = report.get("firm", {})
    composite = report.get("composite", {})
    benchmark = report.get("benchmark", {})
    benchmark_text = str(benchmark.get("benchmark_name", ""))
    if benchmark.get("provider"):
        benchmark_text += f" ({benchmark['provider']})"
    return [
        ("Firm", str(firm.get("name", ""))),
        ("Composite", f"{composite.get('composite_name', '')} ({composite.get('composite_id', '')})"),
        ("Benchmark", benchmark_text),
        ("Reporting currency", str(composite.get("currency", ""))),
        ("Composite inception date", str(composite.get("inception_date", ""))),
        ("Composite creation date", str(composite.get("creation_date", ""))),
        ("Reporting period", reporting_period(report)),
    ]


def document_title(report: Mapping[str, Any]) -> str:
    """The document's title line, e.g. ``"GIPS Composite Report: US Large Cap Core, 2026"``."""
    title = report.get("title") or "GIPS Composite Report"
    name = report.get("composite", {}).get("composite_name", "")
    return f"{title}: {name}, {report.get('report_year')}"


def subtitle(report: Mapping[str, Any]) -> str:
    """The line under the title, e.g. ``"US Large Cap Core Composite, report year 2026"``."""
    name = str(report.get("composite", {}).get("composite_name", ""))
    if not name.lower().endswith("composite"):
        name = f"{name} composite"
    return f"{name}, report year {report.get('report_year')}"


def fingerprint(report: Mapping[str, Any]) -> str:
    """The input fingerprint printed in the footer (``"unknown"`` when the report carries none)."""
    return str(report.get("inputs", {}).get("fingerprint") or "unknown")


def methodology_items(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The ``methodology`` mapping as (heading, text) pairs, in the mapping's order."""
    methodology: Mapping[str, Any] = report.get("methodology") or {}
    return [(methodology_label(key), str(text)) for key, text in methodology.items()]


def disclosures(report: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The report's disclosures, in order, each with ``title`` and ``text`` (and ``provision``)."""
    return report.get("disclosures") or []


def disclosure_heading(disclosure: Mapping[str, Any]) -> str:
    """A disclosure's heading with its GIPS provision, e.g. ``"Currency (GIPS 4.C.7)"``."""
    title = str(disclosure.get("title", ""))
    provision = disclosure.get("provision")
    return f"{title} (GIPS {provision})" if provision else title
