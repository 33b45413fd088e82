"""When the CDC sensor asks again for a range whose run failed: exponential backoff, then stop.

Pure domain code (no Dagster). The failed attempts of one partition are the failed runs of ranges
that start at its committed position (the range's end may grow between attempts as records arrive;
the attempt is still the same one: the start did not move). Between attempts the sensor waits
``base * 2**(n-1)`` seconds after the n-th failure (capped). When the last ``max_attempts``
failures had the same reason, the range is *stuck*: the sensor stops asking until an operator
un-sticks it (docs/architecture.md, "CDC retries and stalled partitions").

Two errors are the same reason when they are equal once every run of digits is blanked out: an
error that names its offsets or a growing range end is still the same error.

A range that failed inside a *shared* run (one run carrying several partitions' ranges) may not be the
cause: its next attempt is requested at once, in a run of its own, and it is never given up on a shared
run's failure; the backoff applies from then on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Action = Literal["request", "wait", "stop"]
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how fast a failing range is asked for again."""

    max_attempts: int = 5
    base_backoff_s: float = 30.0
    max_backoff_s: float = 1800.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError(f"backoffs must not be negative, got {self.base_backoff_s} and {self.max_backoff_s}")

    def backoff_s(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure before the next attempt (0 before any)."""
        if failures <= 0:
            return 0.0
        return min(self.base_backoff_s * 2 ** (failures - 1), self.max_backoff_s)


@dataclass(frozen=True)
class FailedAttempt:
    """One failed run of a range: which run, the range it read, when it ended, and its error."""

    run_id: str
    range_label: str
    ended_at_s: float
    error: str
    shared: bool = False  # the run carried other partitions' ranges too


@dataclass(frozen=True)
class RangeDecision:
    """What the sensor does with a partition's next range, and why."""

    action: Action
    failures: int = 0
    same_reason: int = 0
    retry_at_s: float | None = None
    last: FailedAttempt | None = None

    def describe(self) -> str:
        """One sentence: the decision with its counts and the last error."""
        if self.last is None:
            return "no failed attempt: requested"
        error = first_line(self.last.error)
        if self.action == "stop":
            return (f"{self.last.range_label} failed {self.same_reason} times for the same reason, the sensor stopped "
                    f"asking for it: {error}")
        if self.action == "wait":
            at = dt.datetime.fromtimestamp(self.retry_at_s or 0, dt.UTC).strftime("%H:%M:%S")
            return f"{self.last.range_label} failed {self.failures} times; next attempt at {at} UTC: {error}"
        return f"{self.last.range_label} failed {self.failures} times; retried: {error}"


def first_line(error: str) -> str:
    """The first non-empty line of an error message (the rest is a traceback or context)."""
    for line in error.strip().splitlines():
        if line.strip():
            return line.strip()
    return "no error message"


def reason_signature(error: str) -> str:
    """What makes two errors the same reason: the first line with every run of digits blanked out."""
    return _DIGITS.sub("#", first_line(error))


def decide(failures: Sequence[FailedAttempt], policy: RetryPolicy, now_s: float) -> RangeDecision:
    """Request, wait or stop for a partition whose failed attempts (oldest first) are ``failures``."""
    if not failures:
        return RangeDecision("request")
    ordered = sorted(failures, key=lambda f: f.ended_at_s)
    last = ordered[-1]
    signature = reason_signature(last.error)
    same = 0
    for attempt in reversed(ordered):
        if reason_signature(attempt.error) != signature:
            break
        same += 1
    if same >= policy.max_attempts and not last.shared:  # given up only after failing in a run of its own
        return RangeDecision("stop", len(ordered), same, None, last)
    retry_at = last.ended_at_s + (0.0 if last.shared else policy.backoff_s(len(ordered)))
    action: Action = "wait" if now_s < retry_at else "request"
    return RangeDecision(action, len(ordered), same, retry_at, last)
