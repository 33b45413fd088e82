"""Range reads in a helper process: Kafka records are decoded on one core while the caller parses on another.

kafka-python decodes records in pure Python (~11 us a record) holding the GIL, so a reader thread and
the parser in the same process mostly take turns. Here a helper process (one per parent process,
started on first use so that kafka is imported once, then reused) runs the thread path's own reader
(:func:`resources.kafka_range_read.iter_chunks`: same records, same checks, same error messages) and streams
its chunks back through a pipe; the caller parses them while the helper reads on.

Protocol: the parent writes one JSON request per line to the helper's stdin; the helper answers on
its stdout with frames (1-byte kind, 8-byte little-endian length, pickle): ``chunks`` (a list of
chunk tuples) as it reads, then ``done`` or ``error`` (the exception). Only this parent's own
helper is ever unpickled. The helper exits when its stdin closes (the parent exited, or was killed:
no orphan); the parent kills it when a caller stops reading a range early.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from mesh_assets.lib.cdc.records import OffsetRange, RecordChunk
from resources.kafka_client import KafkaClientSettings
from resources.kafka_range_read import KafkaRangeError

_HEADER = struct.Struct("<BQ")
CHUNKS, DONE, ERROR = 0, 1, 2
#: Records the helper gathers before it sends a frame (a frame costs a pickle and two pipe writes). The first
#: chunk of a read goes at once and the next frames grow from :data:`FIRST_FRAME_RECORDS`: the parent's parser
#: starts on small units (``mesh_assets.lib.cdc.columnar.FIRST_UNIT_RECORDS``) as soon as the first records exist.
FRAME_RECORDS = 2_000
FIRST_FRAME_RECORDS = 250
#: Extra seconds the parent waits for a frame beyond the read's own timeout before it gives up on the helper.
STALL_GRACE_S = 30.0


class ReaderProcessError(KafkaRangeError):
    """The helper process died or stopped answering."""


class _Helper:
    """One helper process and the pipes to it."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self.owner = os.getpid()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "resources.kafka_reader_process", str(self.owner)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
        )  # fmt: skip
        _widen_pipe(self.proc.stdout)

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.proc.poll() is None

    def kill(self) -> None:
        """Stop the helper at once (a read was abandoned, or the parent exits)."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()  # type: ignore[union-attr]

    def read(self, request: dict, ranges: Sequence[OffsetRange], timeout_s: float, prefetch_frames: int):
        """Send one request; yield its chunks as the helper reads them."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            self.kill()
            raise ReaderProcessError(
                f"the Kafka reader process (pid {self.proc.pid}) exited with code {self.proc.returncode} before "
                f"reading {[r.label() for r in ranges]}"
            ) from None
        frames: queue.Queue = queue.Queue(maxsize=prefetch_frames)
        stop = threading.Event()
        drain = threading.Thread(target=_drain, args=(self.proc.stdout, frames, stop), name="mesh-cdc-reader-pipe",
                                 daemon=True)  # fmt: skip
        drain.start()
        finished = False
        try:
            while True:
                try:
                    kind, payload = frames.get(timeout=timeout_s + STALL_GRACE_S)
                except queue.Empty:
                    raise ReaderProcessError(
                        f"the Kafka reader process (pid {self.proc.pid}) sent nothing for "
                        f"{timeout_s + STALL_GRACE_S:.0f}s while reading {[r.label() for r in ranges]}"
                    ) from None
                if kind == CHUNKS:
                    for index, offsets, timestamps, keys, values in pickle.loads(payload):
                        r = ranges[index]
                        yield RecordChunk(r.topic, r.partition, offsets, timestamps, keys, values)
                elif kind == DONE:
                    finished = True
                    return
                elif kind == ERROR:
                    finished = True
                    raise pickle.loads(payload)
                else:  # the pipe closed: the helper died
                    code = self.proc.wait(timeout=10)
                    raise ReaderProcessError(
                        f"the Kafka reader process (pid {self.proc.pid}) exited with code {code} while reading "
                        f"{[r.label() for r in ranges]}"
                    )
        finally:
            stop.set()
            if not finished:
                self.kill()
            drain.join(timeout=10)


def _widen_pipe(pipe) -> None:
    """Ask Linux for a 1 MiB pipe buffer (default 64 KiB): fewer wake-ups per frame. Best effort."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass


def _drain(stdout, frames: queue.Queue, stop: threading.Event) -> None:
    """Move the helper's frames from the pipe to ``frames`` until the request's last frame (or EOF)."""

    def put(item: tuple) -> bool:
        while not stop.is_set():
            try:
                frames.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        while True:
            header = stdout.read(_HEADER.size)
            if len(header) < _HEADER.size:
                put((None, b""))
                return
            kind, size = _HEADER.unpack(header)
            payload = stdout.read(size)
            if len(payload) < size:
                put((None, b""))
                return
            if not put((kind, payload)) or kind != CHUNKS:
                return
    except (OSError, ValueError):  # the parent killed the helper and closed the pipe
        put((None, b""))


_lock = threading.Lock()
_helper: _Helper | None = None


def _after_fork_in_child() -> None:
    """A forked child must neither use its parent's helper nor hold the helper's stdin open (the helper
    exits when its stdin closes). Its copies of the pipes are pointed at /dev/null: their file objects
    stay valid (closed once, by whoever drops them) but no longer reach the helper."""
    global _helper, _lock
    helper, _helper = _helper, None
    _lock = threading.Lock()
    if helper is None:
        return
    _orphaned.append(helper)
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        for pipe in (helper.proc.stdin, helper.proc.stdout):
            with contextlib.suppress(OSError, ValueError):
                os.dup2(null, pipe.fileno())  # type: ignore[union-attr]
        os.close(null)


#: Parent helpers seen by a forked child (kept so that the child never waits for or kills them).
_orphaned: list[_Helper] = []


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def shutdown() -> None:
    """Stop this process's helper, if one runs."""
    global _helper
    helper, _helper = _helper, None
    if helper is not None and helper.owner == os.getpid():
        helper.kill()


def prestart() -> None:
    """Start the helper now (it imports kafka, ~0.5 s on another core) if it is free and not running yet."""
    global _helper
    if _lock.acquire(blocking=False):
        try:
            if _helper is None or not _helper.alive():
                _helper = _Helper()
        finally:
            _lock.release()


@contextlib.contextmanager
def reserved() -> Iterator[_Helper | None]:
    """This process's helper (started if needed) for one read, or ``None`` while another read uses it.

    Use it inside the generator that reads, so that closing the generator releases the helper::

        with reserved() as helper:
            if helper is not None:
                yield from helper.read(request, ranges, timeout_s, prefetch_frames)
    """
    global _helper
    lock = _lock
    if not lock.acquire(blocking=False):
        yield None
        return
    try:
        if _helper is None or not _helper.alive():
            _helper = _Helper()
        helper = _helper
        try:
            yield helper
        finally:
            if not helper.alive() and _helper is helper:
                _helper = None
    finally:
        lock.release()


def request(
    bootstrap_servers: str,
    ranges: Sequence[OffsetRange],
    topic_prefix: str,
    timeout_s: float,
    security: KafkaClientSettings | None = None,
) -> dict:
    """The JSON request of one range read. ``security`` travels with it (the helper may have been started
    before the caller's settings changed); it goes through the private pipe only, never to a log."""
    return {"bootstrap": bootstrap_servers, "prefix": topic_prefix, "timeout_s": timeout_s,
            "security": (security or KafkaClientSettings.from_environment()).to_environment(),
            "ranges": [[r.topic, r.partition, r.start, r.end] for r in ranges]}  # fmt: skip


# -- the helper's side ----------------------------------------------------------------------------------


def serve() -> None:
    """The helper's loop: read requests from stdin, answer with frames on stdout; exit when stdin closes."""
    import kafka.errors  # noqa: F401  (the slow import, ~0.5 s: done before the first request)

    from resources.kafka_range_read import ConsumerPool, iter_chunks

    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames on the protocol pipe
    requests: queue.Queue = queue.Queue()
    consumers = ConsumerPool()  # one consumer kept between requests: no new connection per read

    def watch_stdin() -> None:
        for line in sys.stdin.buffer:
            requests.put(line)
        os._exit(0)  # the parent closed the pipe or died

    def watch_parent(parent: int) -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)  # the parent died (even if some other process still holds our stdin)

    threading.Thread(target=watch_stdin, name="mesh-cdc-reader-stdin", daemon=True).start()
    if len(sys.argv) > 1:
        threading.Thread(target=watch_parent, args=(int(sys.argv[1]),), name="mesh-cdc-reader-parent",
                         daemon=True).start()  # fmt: skip

    def send(kind: int, payload: bytes) -> None:
        try:
            out.write(_HEADER.pack(kind, len(payload)))
            out.write(payload)
            out.flush()
        except (BrokenPipeError, ValueError):
            os._exit(0)

    while True:
        request = json.loads(requests.get())
        ranges = [OffsetRange(t, p, s, e) for t, p, s, e in request["ranges"]]
        security = KafkaClientSettings.from_environment(request.get("security") or {})
        index = {(r.topic, r.partition): i for i, r in enumerate(ranges)}
        pending: list[tuple] = []
        count = 0
        first = True
        frame_records = FIRST_FRAME_RECORDS
        try:
            with contextlib.closing(
                iter_chunks(request["bootstrap"], ranges, request["prefix"], request["timeout_s"], consumers=consumers,
                             security=security)
            ) as chunks:
                for chunk in chunks:
                    pending.append((index[(chunk.topic, chunk.partition)], chunk.offsets, chunk.timestamps_ms,
                                    chunk.keys, chunk.values))  # fmt: skip
                    count += len(chunk)
                    if count >= frame_records or first:  # the first chunk goes at once: parsing starts sooner
                        if not first:
                            frame_records = min(FRAME_RECORDS, frame_records * 2)
                        first = False
                        send(CHUNKS, pickle.dumps(pending, protocol=pickle.HIGHEST_PROTOCOL))
                        pending, count = [], 0
            if pending:
                send(CHUNKS, pickle.dumps(pending, protocol=pickle.HIGHEST_PROTOCOL))
            send(DONE, b"")
        except Exception as exc:  # handed to the parent, raised there
            try:
                payload = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.loads(payload)
            except Exception:
                payload = pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
            send(ERROR, payload)


if __name__ == "__main__":
    serve()
