"""Rendering of a GIPS Composite Report (2020 GIPS Standards for Firms) from a plain report dict.

``formatting`` holds the number and table formatting shared by both outputs, ``chart`` draws the
composite-versus-benchmark cumulative return chart, ``html`` renders self-contained HTML through a
Jinja2 template and ``pdf`` renders a byte-deterministic PDF with ReportLab platypus. Nothing here
imports Dagster; ReportLab and Jinja2 are only imported when a report is rendered.
"""
