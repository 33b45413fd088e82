"""The disclosures GIPS 2020 (Provision 4, Composite Time-Weighted Return Report) requires of our composites.

Each disclosure carries its provision, a title and the sentence(s) the report prints; the same list feeds the
PDF, the HTML and the JSON, and ``docs/gips_disclosures.md`` lists where each is stated. Only provisions that
apply to the firm's composites are here (no pooled funds, carve-outs, wrap fees, subadvisors, leverage,
derivatives or short positions; one currency); the document says why the others do not apply. Provisions
given as "4.C" alone are Provision 4.C requirements whose sub-number is to be confirmed against CFA Institute's
text (see the document).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIRM_NAME = "Investment Data Mesh Asset Management"
FIRM_DEFINITION = (
    f"{FIRM_NAME} (the Firm) is an independent investment adviser managing discretionary and "
    "non-discretionary institutional equity portfolios. The Firm is defined as all portfolios managed by its "
    "investment teams on the Investment Data Mesh platform; total firm assets include every portfolio it manages."
)
#: Periods for which the firm has been independently verified; None: the firm has not been verified.
VERIFIED_PERIODS: str | None = None
TRADEMARK = ("GIPS® is a registered trademark of CFA Institute. CFA Institute does not endorse or promote this "
             "organization, nor does it warrant the accuracy or quality of the content contained herein.")


def compliance_statement(verified_periods: str | None = VERIFIED_PERIODS) -> str:
    """The GIPS 2020 compliance statement for a verified or a not verified firm, with the trademark notice."""
    claim = (f"{FIRM_NAME} claims compliance with the Global Investment Performance Standards (GIPS®) and has "
             "prepared and presented this report in compliance with the GIPS standards.")
    if verified_periods is None:
        status = f"{FIRM_NAME} has not been independently verified."
    else:
        status = (f"{FIRM_NAME} has been independently verified for the periods {verified_periods}. The "
                  "verification report(s) is/are available upon request. Verification does not provide assurance "
                  "on the accuracy of any specific performance report.")
    return f"{claim} {status} {TRADEMARK}"


def required_disclosures(
    *, composite: Mapping[str, Any], benchmark: Mapping[str, Any], fee_schedule_text: str, dispersion_text: str,
    risk_months: int, membership_text: str, methodology_text: str,
) -> list[dict[str, str]]:
    """The composite report's disclosures, in the order the report prints them: provision, title, text."""
    name = composite["composite_name"]
    currency = composite["currency"]
    items = [
        ("4.C.1", "Compliance statement and verification status", compliance_statement()),
        ("4.C.2", "Definition of the firm", FIRM_DEFINITION),
        ("4.C.3", "Composite description", f"{name}: {composite['description']}"),
        ("4.C.4", "Benchmark description", f"The benchmark is the {benchmark['benchmark_name']} "
         f"({benchmark['provider']}), total return in {benchmark.get('currency') or currency}, chosen because it "
         f"reflects the composite's {composite['strategy']} strategy. The benchmark has not changed."),
        ("4.C.5", "Gross-of-fees returns", "Gross-of-fees returns are calculated after actual trading expenses and "
         "before management and custodial fees; no other fee is deducted from them."),
        ("4.C.6", "Net-of-fees returns", "Net-of-fees returns deduct each portfolio's actual management fee "
         "(its tiered schedule, one twelfth of the annual rate on the month's beginning value, at every month end) "
         "from the gross-of-fees return. No performance-based fee is charged and no other fee is deducted."),
        ("4.C.7", "Currency", f"Valuations and returns are computed and stated in {currency}."),
        ("4.C.8", "Internal dispersion", dispersion_text),
        ("4.C.9", "Fee schedule", f"The standard annual management fee schedule is {fee_schedule_text}."),
        ("4.C.10", "Composite creation date", f"The composite was created on {composite['creation_date']}."),
        ("4.C", "Composite inception date", f"The composite's inception date (the start of its performance "
         f"record) is {composite['inception_date']}."),
        ("4.C.11", "List of composite descriptions", "A list of the Firm's composite descriptions is available "
         "upon request."),
        ("4.C.12", "List of pooled funds", "The Firm manages no limited or broad distribution pooled fund: there is "
         "no list of pooled fund descriptions to request."),
        ("4.C.13", "Policies available upon request", "Policies for valuing investments, calculating performance "
         "and preparing GIPS Reports are available upon request."),
        ("4.C", "Leverage, derivatives and short positions", "The composite's portfolios use no leverage, "
         "derivatives or short positions."),
        ("4.C", "Trading expenses", "Returns are calculated after the deduction of actual trading expenses: "
         "every trade is booked at its executed amount. No estimated trading expense is used."),
        ("4.C", "Withholding taxes", "Dividends and interest are recorded net of withholding taxes that cannot "
         "be reclaimed; capital gains bear no withholding tax. The composite's returns in the periods presented "
         "include no withholding tax."),
        ("4.C", "Minimum portfolio size and significant cash flows", membership_text),
        ("4.C", "Three-year ex-post standard deviation", f"The three-year annualised ex-post standard deviation "
         f"uses the {risk_months} monthly gross-of-fees returns of the composite and the benchmark ending at the "
         f"year end; it is not presented (n/a) for years before {risk_months} monthly returns exist."),
        ("4.C", "Significant events", "No significant event (change of ownership, personnel, investment process "
         "or composite definition) affected the composite in the periods presented."),
        ("4.C", "Calculation methodology", methodology_text),
    ]
    return [{"provision": p, "title": t, "text": x} for p, t, x in items]
