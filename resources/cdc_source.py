"""Where Aladdin CDC records come from: a replay of a capture file (local), or Kafka (MSK in aws)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from mesh_assets.lib.cdc.records import OffsetRange, RecordChunk, SourceRecord


@cache
def _capture(path: Path, mtime_ns: int) -> tuple[SourceRecord, ...]:
    """Records of one capture file in file order (cached per file version)."""
    from mesh_assets.lib.cdc.capture import read_capture

    return tuple(read_capture(path))


class CdcSourceResource(ConfigurableResource):
    """Reads CDC records by topic-partition offset range, whatever the backend.

    ``replay`` reads ``<capture_dir>/<topic>.jsonl`` (Kafka records captured with their partition
    and offset); ``kafka`` reads a real broker (MSK in aws, the local KRaft broker in development).
    Both hand the same :class:`SourceRecord`s to the same parser and commit code.
    """

    backend: str = Field(description="'replay' (capture files) or 'kafka'")
    capture_dir: str | None = Field(default=None, description="folder of <topic>.jsonl captures (replay)")
    bootstrap_servers: str | None = Field(default=None, description="Kafka bootstrap servers (kafka)")
    topic_prefix: str = Field(default="", description="prefix of the broker's topic names, e.g. 'prod.' (kafka)")

    def _records(self, topic: str) -> tuple[SourceRecord, ...]:
        path = Path(self.capture_dir or ".") / f"{topic}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"CDC capture for topic {topic} not found at {path}")
        return _capture(path, path.stat().st_mtime_ns)

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Next offset to be written per partition (the log end); the Kafka backend reads no payload."""
        if self.backend == "kafka":
            from resources.kafka import end_offsets

            return end_offsets(self._bootstrap(), topic, self.topic_prefix)
        self._check_backend()
        ends: dict[int, int] = {}
        for record in self._records(topic):
            ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
        return ends

    def read(self, ranges: Sequence[OffsetRange]) -> list[SourceRecord]:
        """Exactly the records of ``ranges``, in (partition, offset) order; a missing offset is an error."""
        if self.backend == "kafka":
            from resources.kafka import read_ranges

            return read_ranges(self._bootstrap(), ranges, self.topic_prefix)
        self._check_backend()
        wanted: dict[tuple[str, int], OffsetRange] = {(r.topic, r.partition): r for r in ranges}
        records = [
            rec
            for topic in sorted({r.topic for r in ranges})
            for rec in self._records(topic)
            if (r := wanted.get((rec.topic, rec.partition))) is not None and r.start <= rec.offset < r.end
        ]
        records.sort(key=lambda rec: (rec.topic, rec.partition, rec.offset))
        for r in ranges:
            got = sum(1 for rec in records if rec.topic == r.topic and rec.partition == r.partition)
            if got != len(r):
                raise RuntimeError(f"{r.label()}: source returned {got} records for a range of {len(r)} offsets")
        return records

    def read_chunks(self, ranges: Sequence[OffsetRange]) -> Iterator[RecordChunk]:
        """The records of ``ranges`` as columnar chunks (offset order within a partition).

        The Kafka backend reads in a background thread while the caller parses the chunks it already
        has; the replay backend yields one chunk per range of :meth:`read` (same checks).
        """
        if self.backend == "kafka":
            from resources.kafka import read_chunks

            yield from read_chunks(self._bootstrap(), ranges, self.topic_prefix)
            return
        records = self.read(ranges)
        start = 0
        for index in range(1, len(records) + 1):
            if index == len(records) or records[index].topic_partition != records[start].topic_partition:
                yield RecordChunk.of_records(records[start:index])
                start = index

    def _bootstrap(self) -> str:
        if not self.bootstrap_servers:
            raise ValueError("the kafka CDC backend needs bootstrap_servers (MESH_KAFKA_BOOTSTRAP)")
        return self.bootstrap_servers

    def _check_backend(self) -> None:
        if self.backend != "replay":
            raise ValueError(f"unknown CDC backend {self.backend!r}; expected 'replay' or 'kafka'")
