"""The hot table's Iceberg work in a child process, off the hot process's GIL.

An Iceberg commit costs the worker 150-450 ms of CPU per thousand rows (Arrow conversion, Parquet, Avro
manifests, catalog); in a thread it holds the GIL in slices against the hot loop and the Kafka clients, and
the enriched outputs wait. The worker therefore starts one child process at start-up (``forkserver``: a clean
process, no fork of the threaded worker; the server preloads pyiceberg, so a restart forks warm) and sends it,
over a pipe, each micro-batch's rows (the enriched rows as newline-delimited JSON, exactly the bytes published
to ``trades.execution``), its offset ranges and its snapshot-summary entries; the child builds the Arrow table,
commits with :func:`~mesh_assets.lib.lakehouse.exactly_once.append_exactly_once` and answers with the outcome
(snapshot id, positions) or the error. Heartbeats (table property) and snapshot expiry go the same way.

The table is the truth: a child that dies mid-commit is restarted and the batch retried; the retry re-reads
the committed positions, so a commit that landed before the death writes nothing again, and one that did not
lands once. The caller (the commit writer thread) waits for the answer before it counts a batch committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import multiprocessing
import os
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from mesh_assets.lib.cdc.records import OffsetRange
from mesh_assets.lib.lakehouse.exactly_once import OffsetGapError

if TYPE_CHECKING:
    import pyarrow as pa

    from mesh_assets.lib.lakehouse.tables import TableSpec
    from trade_worker.settings import CatalogSettings

log = logging.getLogger(__name__)


class CommitProcessError(RuntimeError):
    """The commit process died, did not answer, or its commit failed (the message says which and why)."""


class CommitProcessLost(CommitProcessError):
    """The commit process died again and again without answering: the worker stops (exit non-zero)."""


@dataclass(frozen=True)
class CommitReply:
    """What the child's exactly-once append did."""

    committed: bool
    snapshot_id: int | None
    rows_written: int
    #: cumulative committed positions of every partition in the table, (topic, partition) -> offset
    positions: dict[tuple[str, int], int]
    ranges: list[OffsetRange]


def rows_table(lines: Sequence[bytes], spec: TableSpec) -> pa.Table:
    """The hot table's Arrow rows from the enriched rows' JSON (the ``trades.execution`` values).

    Dates arrive as ISO strings and ``book_changes`` as a JSON array; both are restored to the table's types.
    """
    import pyarrow as pa

    rows = [orjson.loads(line) for line in lines]
    schema = spec.schema
    columns = []
    for f in schema:
        name = f.name
        if name == "book_changes":
            values: list[Any] = [orjson.dumps(r.get(name) or []).decode() for r in rows]
        elif pa.types.is_date32(f.type):
            values = [dt.date.fromisoformat(v) if v is not None else None for v in (r.get(name) for r in rows)]
        else:
            values = [r.get(name) for r in rows]
        columns.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _serve(conn: Any, catalog: CatalogSettings, spec: TableSpec, nice: int) -> None:
    """The child's loop: one request, one answer, until told to stop or the pipe closes."""
    from mesh_assets.lib.lakehouse.exactly_once import append_exactly_once
    from mesh_assets.lib.lakehouse.summary_keys import HEARTBEAT_PROPERTY

    if nice:  # commits are off the latency path (outputs go first): yield the CPU to the hot process and broker
        with contextlib.suppress(OSError):
            os.nice(nice)

    loaded = catalog.catalog()

    def load_table():
        return loaded.load_table(spec.identifier)

    load_table()  # imports and catalog connection done before the parent's first request
    conn.send(("ready", None))

    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        kind = request[0]
        try:
            if kind == "stop":
                conn.send(("ok", None))
                return
            if kind == "commit":
                _, ranges, payload, summary = request
                rows = rows_table(payload.split(b"\n") if payload else [], spec)
                outcome = append_exactly_once(load_table, [OffsetRange(*r) for r in ranges], rows, summary)
                answer: Any = (outcome.committed, outcome.snapshot_id, outcome.rows_written,
                               [(tp.topic, tp.partition, o) for tp, o in outcome.positions.items()],
                               [(r.topic, r.partition, r.start, r.end) for r in outcome.ranges])
            elif kind == "heartbeat":
                with load_table().transaction() as tx:
                    tx.set_properties({HEARTBEAT_PROPERTY: request[1]})
                answer = None
            elif kind == "expire":
                # the keep rule of the weekly table maintenance, not age alone: a compaction on top of the last
                # commit (pyiceberg or Trino) carries no positions, and expiring the commit under it by age would
                # lose the committed positions the next append reads
                from mesh_assets.lib.lakehouse.snapshot_retention import RetentionPolicy
                from mesh_assets.lib.lakehouse.table_maintenance import expire_snapshots

                cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=request[1])
                expire_snapshots(load_table, RetentionPolicy(int(cutoff.timestamp() * 1000), keep_last=1))
                answer = None
            else:
                raise ValueError(f"unknown request {kind!r}")
            conn.send(("ok", answer))
        except OffsetGapError as exc:
            conn.send(("gap", str(exc)))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=5)))


#: Modules the fork server imports before it forks a commit process.
_PRELOAD = ("trade_worker.commit_process", "mesh_assets.lib.lakehouse.exactly_once", "pyiceberg.catalog.sql",
            "pyiceberg.table", "pyarrow.parquet")


class CommitProcess:
    """The parent's handle on the child: start it once, call it (blocking), restart it if it died."""

    def __init__(self, catalog: CatalogSettings, spec: TableSpec, start_method: str = "forkserver",
                 answer_timeout_s: float = 300.0, max_deaths: int = 3, nice: int = 10) -> None:
        self._catalog = catalog
        self._spec = spec
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":  # the server imports these once; each child (a restart, a test) forks warm
            self._context.set_forkserver_preload(list(_PRELOAD))
        self._answer_timeout_s = answer_timeout_s
        self._process: Any = None
        self._conn: Any = None
        self._ready = False
        self._max_deaths = max_deaths
        self._nice = nice
        self._deaths = 0  # in a row, without an answer in between
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        """The child's pid (None before start)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the child (returns at once; the child imports pyiceberg while the worker warms up)."""
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_serve, args=(child, self._catalog, self._spec, self._nice),
                                        name="mesh-stream-committer", daemon=True)
        process.start()
        child.close()
        self._process, self._conn, self._ready = process, parent, False

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Block until the child has imported pyiceberg and loaded the table (raise if it died or took too long)."""
        if self._ready:
            return
        self._await("start", timeout_s)
        self._ready = True

    def _await(self, what: str, timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        while not self._conn.poll(0.5):
            if not self._process.is_alive():
                raise CommitProcessError(f"the commit process died (exit code {self._process.exitcode}) "
                                         f"during a {what}")
            if time.monotonic() > deadline:
                raise CommitProcessError(f"the commit process did not answer a {what} in {timeout_s:.0f} s")
        return self._conn.recv()

    def restart(self) -> None:
        """Kill what is left of the child and start a new one."""
        self._discard()
        self.restarts += 1
        self.start()

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(5)
        self._process = self._conn = None

    def _call(self, request: tuple) -> Any:
        """Send ``request`` and return the answer; a child that died (before or during it) is restarted and the
        request sent again (safe: a commit re-reads the table's positions, a heartbeat or an expiry is idempotent)
        up to ``max_deaths`` times in a row, then :class:`CommitProcessLost`."""
        while True:
            if self._process is None or not self._process.is_alive():
                code = self._process.exitcode if self._process is not None else None
                if self._deaths >= self._max_deaths:
                    raise CommitProcessLost(f"the commit process died {self._deaths} times in a row (last exit code "
                                            f"{code}) during a {request[0]}; giving up on the hot table")
                if self._process is not None:
                    log.warning("commit process gone (exit code %s): restarting it", code)
                    self._deaths += 1
                    self.restart()
                else:
                    self.start()
            try:
                self.wait_ready(self._answer_timeout_s)
                self._conn.send(request)
                answer = self._await(request[0], self._answer_timeout_s)
                break
            except (EOFError, OSError, CommitProcessError) as exc:
                log.warning("commit process lost during a %s (%r): the table says what landed", request[0], exc)
                if self._process is not None and self._process.is_alive():
                    self._process.kill()  # no answer in time: a hung child is treated as a dead one
                    self._process.join(5)
        self._deaths = 0
        if answer[0] == "gap":
            raise OffsetGapError(answer[1])
        if answer[0] == "error":
            log.debug("commit process error:\n%s", answer[2])
            raise CommitProcessError(f"{request[0]} failed in the commit process: {answer[1]}")
        return answer[1]

    def commit(self, ranges: Sequence[OffsetRange], rows_json: Sequence[bytes],
               summary: dict[str, str]) -> CommitReply:
        """Append the rows (their JSON) covering ``ranges`` exactly once, with ``summary`` in the snapshot."""
        committed, snapshot_id, rows_written, positions, done = self._call(
            ("commit", [(r.topic, r.partition, r.start, r.end) for r in ranges], b"\n".join(rows_json), summary))
        return CommitReply(committed, snapshot_id, rows_written, {(t, p): o for t, p, o in positions},
                           [OffsetRange(*r) for r in done])

    def heartbeat(self, beat_json: str) -> None:
        """Set the hot table's heartbeat property to ``beat_json``."""
        self._call(("heartbeat", beat_json))

    def expire_snapshots(self, retention_s: float) -> None:
        """Expire the hot table's snapshots older than ``retention_s``."""
        self._call(("expire", retention_s))

    def close(self, timeout_s: float = 10.0) -> None:
        """Ask the child to stop and wait for it (killed after ``timeout_s``)."""
        process, conn = self._process, self._conn
        if process is None:
            return
        try:
            if process.is_alive():
                conn.send(("stop",))
                if conn.poll(timeout_s):
                    conn.recv()
        except (EOFError, OSError):
            pass
        process.join(timeout_s)
        self._discard()
