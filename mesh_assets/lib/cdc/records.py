"""Source records and positions, shaped like Kafka's whatever the source (capture replay or broker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class TopicPartition(NamedTuple):
    """A Kafka topic partition."""

    topic: str
    partition: int

    def label(self) -> str:
        """``topic-partition``, the form used in run keys and metadata."""
        return f"{self.topic}-{self.partition}"


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One Kafka record: position, key and raw value bytes (``None`` for a tombstone)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None

    @property
    def topic_partition(self) -> TopicPartition:
        """The record's topic partition."""
        return TopicPartition(self.topic, self.partition)

    def position(self) -> str:
        """``topic/partition@offset``, to name the record in errors and dead letters."""
        return f"{self.topic}/{self.partition}@{self.offset}"


@dataclass(frozen=True, slots=True)
class OffsetRange:
    """Half-open offset range ``[start, end)`` of one topic partition."""

    topic: str
    partition: int
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"{self.topic}-{self.partition}: invalid offset range [{self.start}, {self.end})")

    @property
    def topic_partition(self) -> TopicPartition:
        """The range's topic partition."""
        return TopicPartition(self.topic, self.partition)

    def __len__(self) -> int:
        return self.end - self.start

    def label(self) -> str:
        """``topic-partition-start-end``: the deterministic run-key form."""
        return f"{self.topic}-{self.partition}-{self.start}-{self.end}"


@dataclass(frozen=True, slots=True)
class RecordChunk:
    """Consecutive records of one topic partition as columns (no object per record).

    What a Kafka poll returns for one partition, or a slice of a capture: the columnar parser reads
    the values as one buffer and builds a :class:`SourceRecord` only for a record that needs the
    per-record path (a dead letter, an additive field, a delete).
    """

    topic: str
    partition: int
    offsets: list[int]
    timestamps_ms: list[int]
    keys: list[bytes | None]
    values: list[bytes | None]

    def __len__(self) -> int:
        return len(self.offsets)

    def record(self, index: int) -> SourceRecord:
        """The record at ``index`` of the chunk."""
        return SourceRecord(
            self.topic, self.partition, self.offsets[index], self.timestamps_ms[index], self.keys[index],
            self.values[index],
        )

    @classmethod
    def of_records(cls, records: list[SourceRecord]) -> RecordChunk:
        """Records of one topic partition, in offset order, as a chunk."""
        first = records[0]
        return cls(
            first.topic, first.partition, [r.offset for r in records], [r.timestamp_ms for r in records],
            [r.key for r in records], [r.value for r in records],
        )
