"""The worker's health, for probes and people: a JSON file rewritten atomically every second and/or HTTP.

``GET /healthz`` (liveness) answers 200 while the hot loop turns (503 once it has been stuck for
``stall_s``), ``GET /readyz`` 200 once the worker is warmed up and consuming, ``GET /`` the same JSON as
the file: status, lag, breaker states, last committed offsets, counts, latency. Standard library only.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: A hot loop silent for longer than this is stuck: liveness fails.
STALL_S = 30.0


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_live(health: dict[str, Any], now_ms: int | None = None, stall_s: float = STALL_S) -> bool:
    """True while the worker is starting or its hot loop turned within ``stall_s``."""
    if health.get("status") in ("failed", "stopped"):
        return False
    loop_at = health.get("loop_at_ms")
    if loop_at is None:
        return health.get("status") == "starting"
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    return now - int(loop_at) <= stall_s * 1000


def read_health(path: Path | str) -> dict[str, Any] | None:
    """The health file's JSON, or ``None`` if it is not there yet."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


class HealthReporter:
    """Publishes ``snapshot()`` to a file every ``interval_s`` and serves it over HTTP (both optional)."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]], path: Path | None = None, port: int | None = None,
                 host: str = "0.0.0.0", interval_s: float = 1.0) -> None:
        self._snapshot = snapshot
        self.path = path
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: ThreadingHTTPServer | None = None
        if port is not None:
            self._server = ThreadingHTTPServer((host, port), self._handler())
            self._server.daemon_threads = True

    @property
    def port(self) -> int | None:
        """The HTTP port actually bound (a requested 0 picks a free one)."""
        return self._server.server_address[1] if self._server is not None else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        snapshot = self._snapshot

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server calls it by this name
                health = snapshot()
                route = self.path.split("?")[0].rstrip("/")
                if route == "/healthz":
                    ok = is_live(health)
                elif route == "/readyz":
                    ok = bool(health.get("ready"))
                elif route in ("", "/health"):
                    ok = True
                else:
                    self.send_error(404, "unknown path: use /, /healthz or /readyz")
                    return
                body = json.dumps(health, default=str).encode()
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: keep quiet
                return

        return Handler

    def write_now(self) -> None:
        """Write the health file once (no-op without a path)."""
        if self.path is not None:
            write_atomically(self.path, json.dumps(self._snapshot(), default=str, sort_keys=True))

    def start(self) -> None:
        """Start the file writer and the HTTP server threads."""
        if self._server is not None:
            threading.Thread(target=self._server.serve_forever, name="mesh-stream-health-http", daemon=True).start()
        if self.path is not None:
            self._thread = threading.Thread(target=self._loop, name="mesh-stream-health-file", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.write_now()
            except Exception as exc:  # a full disk must not stop the stream
                log.warning("health file %s not written: %s", self.path, exc)

    def stop(self) -> None:
        """Write a last health file and stop serving."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self.write_now()
        except Exception as exc:
            log.warning("health file %s not written: %s", self.path, exc)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
