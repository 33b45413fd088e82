"""Keeping the reference book current: warm it up at start, reload it when the end-of-day batch publishes.

The *reference refresher* thread polls the warehouse's batch version every ``refresh_s`` and, when it changed,
loads a new snapshot; the hot loop swaps it in between polls (:meth:`ReferenceKeeper.apply_pending`), so the
book is only ever touched by the hot thread once consuming has begun. A warehouse that is down or locked keeps
the current book and is tried again later.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from trade_worker.reference_book import ReferenceBook, ReferenceSnapshot
from trade_worker.reference_source import WarehouseQuery, load_reference, reference_version

log = logging.getLogger("mesh.stream")


class ReferenceKeeper:
    """Loads ``book`` from ``query`` and keeps it current until ``stop`` is set."""

    def __init__(self, book: ReferenceBook, query: WarehouseQuery | None, stop: threading.Event, refresh_s: float,
                 warmup_timeout_s: float) -> None:
        self.book = book
        self.query = query
        self.refresh_s = refresh_s
        self.warmup_timeout_s = warmup_timeout_s
        self._stop = stop
        self.pending: ReferenceSnapshot | None = None
        self.loaded_at_ms: int | None = None
        self.error: str | None = None

    def warm_up(self) -> None:
        """Load the reference book (retrying up to the warm-up timeout); start empty if the warehouse is down."""
        query = self.query
        if query is None:
            return
        deadline = time.monotonic() + self.warmup_timeout_s
        while not self._stop.is_set():
            try:
                self.book.load(load_reference(query))
                self.loaded_at_ms = int(time.time() * 1000)
                self.error = None
                log.info("reference book warmed up: %d closes, %d positions, %d NAVs as of %s",
                         len(self.book.closes), self.book.position_count, len(self.book.navs), self.book.as_of)
                return
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {str(exc)[:300]}"
                if time.monotonic() >= deadline:
                    log.error("reference warm-up failed, starting with an empty book (refreshed every %.0f s): %s",
                              self.refresh_s, self.error)
                    return
                time.sleep(1.0)

    def start_refresher(self) -> None:
        """Start the refresher thread (nothing to refresh without a warehouse)."""
        if self.query is not None:
            threading.Thread(target=self._refresh_loop, name="mesh-stream-reference", daemon=True).start()

    def _refresh_loop(self) -> None:
        query = self.query
        assert query is not None
        while not self._stop.wait(self.refresh_s):
            try:
                version = reference_version(query)
                if version == self.book.version and self.error is None:
                    continue
                snapshot = load_reference(query)
                self.pending = snapshot
                self.error = None
                log.info("end-of-day output changed (%s -> %s): reloading the reference book", self.book.version,
                         version)
            except Exception as exc:  # warehouse locked by dbt, Athena down: keep the book, try again later
                self.error = f"{type(exc).__name__}: {str(exc)[:300]}"
                log.warning("reference refresh failed (book kept, retried in %.0f s): %s", self.refresh_s,
                            self.error)

    def apply_pending(self) -> None:
        """Swap in the snapshot the refresher loaded (hot thread only)."""
        snapshot = self.pending
        if snapshot is not None:
            self.pending = None
            self.book.load(snapshot)
            self.loaded_at_ms = int(time.time() * 1000)

    def health(self) -> dict[str, Any]:
        """The book's version, size and when it was loaded, and the last load error."""
        book = self.book
        return {"version": book.version, "as_of": book.as_of.isoformat() if book.as_of else None,
                "closes": len(book.closes), "positions": book.position_count, "navs": len(book.navs),
                "loaded_at_ms": self.loaded_at_ms, "error": self.error}
