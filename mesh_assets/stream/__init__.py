"""The trade stream's Dagster side: the companion's runless materializations and checks.
"""
