"""Writing the firm's files, recording each file's sha256 and row count for the manifest."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

import orjson

MANIFEST_NAME = "firm.json"


class FirmWriter:
    """Writes files under ``root`` and remembers ``{relative path: {"sha256", "rows"}}``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, dict] = {}
        self._made: set[Path] = set()

    def _path(self, relative: str) -> Path:
        path = self.root / relative
        if path.parent not in self._made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(path.parent)
        return path

    def _write(self, relative: str, data: bytes, rows: int) -> None:
        self._path(relative).write_bytes(data)
        self.files[relative] = {"sha256": hashlib.sha256(data).hexdigest(), "rows": rows}

    def csv(self, relative: str, header: list[str], rows: list[list]) -> None:
        """A UTF-8 CSV with ``\\n`` line ends, quoting only where needed; rows = data rows."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        self._write(relative, buffer.getvalue().encode(), len(rows))

    def csv_lines(self, relative: str, header: Sequence[str], lines: list[str]) -> None:
        """A CSV from pre-rendered lines whose fields need no quoting (ids, dates, numbers)."""
        text = ",".join(header) + "\n" + "".join(line + "\n" for line in lines)
        self._write(relative, text.encode(), len(lines))

    def jsonl(self, relative: str, lines: Iterable[bytes]) -> None:
        """One JSON document per line, streamed to disk; rows = lines."""
        path = self._path(relative)
        digest = hashlib.sha256()
        rows = 0
        with path.open("wb") as handle:
            for chunk in _batched(lines, 4096):
                data = b"\n".join(chunk) + b"\n"
                digest.update(data)
                handle.write(data)
                rows += len(chunk)
        self.files[relative] = {"sha256": digest.hexdigest(), "rows": rows}

    def query_result(self, relative: str, body: dict) -> None:
        """A Salesforce query-result JSON (sorted keys, indented); rows = its records."""
        data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
        self._write(relative, data, len(body["records"]))

    def manifest(self, manifest: dict) -> None:
        """``firm.json`` itself (not listed in ``files``)."""
        data = orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
        (self.root / MANIFEST_NAME).write_bytes(data)


def _batched(items: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
