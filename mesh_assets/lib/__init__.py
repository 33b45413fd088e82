"""Pure libraries: no Dagster import. The CDC contract and parser, lakehouse commits, GIPS math
and report rendering, the PII scan, data products, quality rules, the exchange calendar.
"""
