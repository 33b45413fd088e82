"""dbt's event stream read on a thread of its own.

The step records each model's materialization as soon as dbt reports the model built, while dbt goes on with the
next model. A range run records one event per model and trading day (13,860 for the large firm's five years, about
15 ms each in the instance's storage); read on the step's own thread, dbt's stdout pipe fills while those are
written and dbt waits. Hand-written for that measured reason: dagster-dbt reads the stream on the caller's thread.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: Seconds dbt is given to stop after an interrupt before it is killed.
STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class _Raised:
    error: BaseException


_END = object()


def read_in_background(events: Iterator[Any]) -> Iterator[Any]:
    """Iterate ``events`` on a daemon thread and yield them here in order; an error there is raised here."""
    pending: queue.Queue[Any] = queue.Queue()

    def pump() -> None:
        try:
            for event in events:
                pending.put(event)
        except BaseException as error:  # re-raised on the step's thread
            pending.put(_Raised(error))
        finally:
            pending.put(_END)

    reader = threading.Thread(target=pump, name="dbt-events", daemon=True)
    reader.start()
    while (item := pending.get()) is not _END:
        if isinstance(item, _Raised):
            raise item.error
        yield item
    reader.join()


def stop_dbt(invocation: Any) -> None:
    """Interrupt the invocation's dbt process if it still runs (the step was interrupted or failed), then wait."""
    process = getattr(invocation, "process", None)
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except Exception:
        process.kill()
        process.wait()
