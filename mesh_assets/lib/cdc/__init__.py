"""Aladdin change-data-capture: records, topic contracts and the Debezium envelope parser.

Pure domain code: no Dagster import. The replay source (local) and the Kafka consumer (production)
both hand :class:`SourceRecord` batches to :func:`parse_batch`.
"""

from mesh_assets.lib.cdc.contracts import CONTRACTS, TopicContract
from mesh_assets.lib.cdc.envelope import ParsedBatch, parse_batch
from mesh_assets.lib.cdc.records import OffsetRange, SourceRecord, TopicPartition

__all__ = [
    "CONTRACTS",
    "OffsetRange",
    "ParsedBatch",
    "SourceRecord",
    "TopicContract",
    "TopicPartition",
    "parse_batch",
]
