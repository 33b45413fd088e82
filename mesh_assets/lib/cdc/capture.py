"""Capture files: Kafka records saved with their partition and offset, one JSON object per line.

``{"topic", "partition", "offset", "timestamp_ms", "key": str | null, "value": str | null}``. The
synthetic firm writes them, the replay source reads them and ``mesh produce-cdc`` sends them to Kafka.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from mesh_assets.lib.cdc.records import SourceRecord


class CaptureFormatError(ValueError):
    """A capture file is missing or holds a line that is not a capture record; names file and line."""


def read_capture(path: Path | str) -> Iterator[SourceRecord]:
    """The records of one capture file, in file (= capture) order; blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise CaptureFormatError(f"CDC capture not found at {path}")
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = orjson.loads(line)
                key, value = raw["key"], raw["value"]
                yield SourceRecord(
                    topic=raw["topic"],
                    partition=int(raw["partition"]),
                    offset=int(raw["offset"]),
                    timestamp_ms=int(raw["timestamp_ms"]),
                    key=key.encode("utf-8") if key is not None else None,
                    value=value.encode("utf-8") if value is not None else None,
                )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise CaptureFormatError(f"{path}:{number}: not a capture line ({exc})") from exc
