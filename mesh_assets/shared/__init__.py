"""Dagster vocabulary shared by every domain: trading-day partitions and check results.
"""
