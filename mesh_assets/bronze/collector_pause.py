"""Python's cyclic garbage collector paused while one CDC batch is read, parsed and committed.

A batch allocates a few hundred thousand short-lived container objects (decoded chunks, Arrow
wrappers, manifest entries) that reference counting alone frees. Each allocation burst still
counts towards the collector's thresholds, and in a code location's heap (Dagster, pyiceberg,
pydantic: ~240K tracked objects) every full collection walks the whole heap (~100 ms each here):
measured on 300K events in 100K batches, pausing saved one or two full collections and ~40 young
ones, ~0.15-0.2 s of the ingesting process. Cyclic garbage the batch leaves (little:
tracebacks, a few pyiceberg objects) is collected once the collector runs again.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block (nested and concurrent uses too); afterwards it is
    enabled again if it was enabled when the outermost block began."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
