"""The one commit-retry loop of the lakehouse writers (pyiceberg's own retry is disabled)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from pyiceberg.table import Table

T = TypeVar("T")


def commit_with_retry(
    load_table: Callable[[], Table], attempt: Callable[[Table, int], T], max_attempts: int = 8
) -> T:
    """Run ``attempt(freshly loaded table, attempt number)`` until it commits without conflict.

    Every attempt starts from a reloaded table, so it decides again what is already committed;
    ``CommitFailedException`` is retried with jittered exponential backoff, anything else is raised.
    """
    from pyiceberg.exceptions import CommitFailedException
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

    retrying = Retrying(
        retry=retry_if_exception_type(CommitFailedException),
        stop=stop_after_attempt(max_attempts),
        wait=wait_random_exponential(multiplier=0.05, max=2.0),
        reraise=True,
    )
    return retrying(lambda: attempt(load_table(), retrying.statistics.get("attempt_number", 1)))
