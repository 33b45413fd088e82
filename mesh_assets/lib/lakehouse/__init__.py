"""Iceberg tables of the lakehouse: their schemas, committed source positions and safe commits.

Plain pyiceberg code with no Dagster import, shared by the bronze assets, the Kafka path and the
streaming worker.
"""
