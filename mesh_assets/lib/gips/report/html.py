"""The GIPS Composite Report as one self-contained HTML page (inline CSS, inline SVG chart).

The page is rendered from ``templates/gips_report.html.j2`` with autoescaping on, so report text
can never inject markup; only the chart SVG, produced by :mod:`mesh_assets.lib.gips.report.chart`, is
inserted as trusted markup. Nothing in the page depends on the clock, so the same report always
gives the same HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "gips_report.html.j2"


def render_html(report: Mapping[str, Any]) -> str:
    """Render the report as a standalone HTML document (a string; identical for the same report)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
    from markupsafe import Markup

    from mesh_assets.lib.gips.report import formatting
    from mesh_assets.lib.gips.report.chart import cumulative_return_svg

    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        # The template is named *.html.j2: select_autoescape()'s defaults would not match the ".j2" suffix.
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml", "html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    template = environment.get_template(TEMPLATE_NAME)
    return template.render(
        report=report,
        title=report.get("title") or "GIPS Composite Report",
        document_title=formatting.document_title(report),
        subtitle=formatting.subtitle(report),
        facts=formatting.key_facts(report),
        firm_definition=report.get("firm", {}).get("definition"),
        table=formatting.statistics_table(report),
        chart_svg=Markup(cumulative_return_svg(report)),  # built by our code; its text nodes are XML-escaped
        disclosures=[(formatting.disclosure_heading(d), d.get("text", "")) for d in formatting.disclosures(report)],
        methodology=formatting.methodology_items(report),
        fingerprint=formatting.fingerprint(report),
    )
