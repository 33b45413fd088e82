"""The composite-versus-benchmark cumulative return chart, as a ReportLab Drawing and as inline SVG.

The same Drawing is a platypus flowable in the PDF and is rendered to SVG for the HTML, so both
outputs show one chart. Only the standard Helvetica font is used, so the output does not depend on
fonts installed on the machine, and nothing random or time-dependent goes into it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics import renderSVG
from reportlab.graphics.charts.legends import LineLegend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from mesh_assets.lib.gips.report.formatting import month_label

COMPOSITE_COLOR = colors.HexColor("#1F3A5F")
BENCHMARK_COLOR = colors.HexColor("#C07A12")
GRID_COLOR = colors.HexColor("#D9DEE5")
AXIS_COLOR = colors.HexColor("#5B6573")
FONT = "Helvetica"

_LEFT, _RIGHT, _BOTTOM, _TOP = 48.0, 14.0, 30.0, 28.0
_MARKERS_UP_TO = 36  # months; beyond that markers clutter the lines


def _nice_step(span: float, target_ticks: int = 5) -> float:
    """A 1-2-5 tick step giving about ``target_ticks`` intervals over ``span`` (in percent)."""
    raw = span / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _y_axis(values: Sequence[float]) -> tuple[float, float, list[float], int]:
    """Y-axis bounds, tick values and label decimals covering ``values`` (percent) and zero."""
    low = min([0.0, *values])
    high = max([0.0, *values])
    span = high - low or 1.0
    step = _nice_step(span)
    low = math.floor(low / step + 1e-9) * step
    high = math.ceil(high / step - 1e-9) * step
    if high - low < step:
        high = low + step
    ticks = [round(low + i * step, 10) for i in range(round((high - low) / step) + 1)]
    decimals = max(0, -math.floor(math.log10(step)))
    return low, high, ticks, decimals


def _series(points: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, float]]:
    """(month index, cumulative return in percent) for the points where ``key`` is presented."""
    return [(float(i), float(p[key]) * 100) for i, p in enumerate(points) if p.get(key) is not None]


def cumulative_return_drawing(report: Mapping[str, Any], width: float, height: float) -> Drawing:
    """Draw composite gross and benchmark cumulative returns by month as a line chart with a legend.

    The x axis is the month index labelled with the month (thinned so labels never overlap), the y axis is
    percent with a stronger line at zero. A report without ``cumulative`` points gives a drawing that says so.
    """
    drawing = Drawing(width, height)
    points: Sequence[Mapping[str, Any]] = report.get("cumulative") or []
    benchmark_name = report.get("benchmark", {}).get("benchmark_name") or "Benchmark"
    entries = [  # (legend name, colour, line width, data); a series with no presented point is left out
        (name, color, line_width, data)
        for name, color, line_width, data in (
            ("Composite, gross of fees", COMPOSITE_COLOR, 2.0, _series(points, "composite_gross")),
            (f"Benchmark: {benchmark_name}", BENCHMARK_COLOR, 1.6, _series(points, "benchmark")),
        )
        if data
    ]
    if not entries:
        drawing.add(String(width / 2, height / 2, "No monthly returns to chart", fontName=FONT, fontSize=9,
                           fillColor=AXIS_COLOR, textAnchor="middle"))
        return drawing

    plot = LinePlot()
    plot.x, plot.y = _LEFT, _BOTTOM
    plot.width, plot.height = width - _LEFT - _RIGHT, height - _BOTTOM - _TOP
    plot.data = [data for *_, data in entries]
    for i, (_, color, line_width, _) in enumerate(entries):
        plot.lines[i].strokeColor = color
        plot.lines[i].strokeWidth = line_width
        if len(points) <= _MARKERS_UP_TO:
            plot.lines[i].symbol = makeMarker("FilledCircle", size=3.5, fillColor=color, strokeColor=color)

    n = len(points)
    x_axis = plot.xValueAxis
    x_axis.valueMin, x_axis.valueMax = (-0.5, 0.5) if n == 1 else (0, n - 1)
    label_every = max(1, math.ceil(n / max(1, int(plot.width // 44))))
    x_axis.valueSteps = list(range(0, n, label_every))
    labels = [month_label(str(p.get("month", ""))) for p in points]
    x_axis.labelTextFormat = lambda value: labels[round(value)] if 0 <= round(value) < n else ""
    x_axis.labels.fontName, x_axis.labels.fontSize = FONT, 7
    x_axis.labels.fillColor = AXIS_COLOR
    x_axis.strokeColor = AXIS_COLOR
    x_axis.tickDown = 3

    low, high, ticks, decimals = _y_axis([y for *_, data in entries for _, y in data])
    y_axis = plot.yValueAxis
    y_axis.valueMin, y_axis.valueMax, y_axis.valueSteps = low, high, ticks
    y_axis.labelTextFormat = lambda value: f"{value:.{decimals}f}%"
    y_axis.labels.fontName, y_axis.labels.fontSize = FONT, 7
    y_axis.labels.fillColor = AXIS_COLOR
    y_axis.strokeColor = AXIS_COLOR
    y_axis.visibleGrid = 1
    y_axis.gridStrokeColor = GRID_COLOR
    y_axis.gridStrokeWidth = 0.5
    y_axis.tickLeft = 3
    drawing.add(plot)

    if low < 0 < high:  # a stronger zero line when returns cross it
        zero_y = plot.y + (0 - low) / (high - low) * plot.height
        drawing.add(Line(plot.x, zero_y, plot.x + plot.width, zero_y, strokeColor=AXIS_COLOR, strokeWidth=0.8))

    legend = LineLegend()
    legend.x, legend.y = plot.x, height - 8
    legend.alignment = "right"
    legend.columnMaximum = 1  # one entry per column: the entries sit side by side
    legend.fontName, legend.fontSize = FONT, 8
    legend.dx, legend.dy, legend.dxTextSpace = 18, 2, 5
    legend.strokeWidth = 2
    legend.colorNamePairs = [(color, name) for name, color, *_ in entries]
    legend.deltax = max(legend.dx + legend.dxTextSpace + 12 + stringWidth(name, FONT, 8) for name, *_ in entries)
    drawing.add(legend)
    return drawing


def cumulative_return_svg(report: Mapping[str, Any], width: float = 760, height: float = 280) -> str:
    """Render the cumulative return chart to an SVG string for inline use in HTML.

    The XML declaration and DOCTYPE are dropped (they are not allowed inside an HTML document), the
    placeholder title and description are replaced by accessible text and the ``<svg>`` element gets
    ``role="img"``. The same report always gives the same string.
    """
    svg = renderSVG.drawToString(cumulative_return_drawing(report, width, height))
    svg = svg[svg.index("<svg"):]
    composite_name = report.get("composite", {}).get("composite_name", "Composite")
    benchmark_name = report.get("benchmark", {}).get("benchmark_name", "benchmark")
    title = escape(f"Cumulative return: {composite_name} (gross of fees) versus {benchmark_name}")
    desc = escape("Monthly cumulative return in percent since the first month of the reporting period.")
    svg = svg.replace("<title>...</title>", f"<title>{title}</title>", 1)
    svg = svg.replace("<desc>...</desc>", f"<desc>{desc}</desc>", 1)
    return svg.replace("<svg ", '<svg role="img" class="chart" ', 1).strip()
