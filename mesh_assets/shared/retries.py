"""Step retries for calls to outside systems (AWS, Salesforce, Kafka): crashes and transient errors only.

A step that talks to S3, Glue, Athena, Data Exchange, Salesforce or Kafka gets :data:`OUTSIDE_SYSTEM_RETRY`:
up to three more attempts after exponentially growing waits with jitter (Dagster computes
``(2**n - 1) * delay`` plus or minus up to ``delay``: about 5 s, 15 s, 35 s), so a throttled API, a broker
leader election or a dropped connection does not fail the run. A user's mistake must not be retried: Dagster
1.13 retries every exception under an op ``RetryPolicy`` except ``Failure(allow_retries=False)``, so
:func:`user_errors_not_retried` turns a :class:`~mesh_assets.lib.user_errors.UserError` (a missing or
malformed delivery, a refused request) into exactly that, keeping its one sentence as the failure's text.
Steps that already raise ``Failure(allow_retries=False)`` for their users' mistakes keep doing so.

Not given a step retry, and why: the CDC micro-batch ingest (its range is retried by ``aladdin_cdc_sensor``
with its own exponential backoff and attempt count, which step retries inside a run would multiply and hide)
and the dbt steps (dbt-athena retries Athena's transient errors itself, ``num_retries`` in the profile).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from dagster import Backoff, Failure, Jitter, RetryPolicy

from mesh_assets.lib.user_errors import UserError

#: The retry policy of every step that calls AWS, Salesforce or Kafka.
OUTSIDE_SYSTEM_RETRY = RetryPolicy(max_retries=3, delay=5, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)

F = TypeVar("F", bound=Callable[..., Any])


def _not_retried(error: UserError) -> Failure:
    return Failure(description=str(error), allow_retries=False,
                   metadata={"user_error": True, "error_type": type(error).__name__})


def user_errors_not_retried(compute: F) -> F:
    """Wrap an asset's compute function so that a ``UserError`` fails the step without a retry.

    The signature (context, config and resource parameters) is kept for Dagster; generator functions stay
    generators. Put it under ``@asset(..., retry_policy=OUTSIDE_SYSTEM_RETRY)``.
    """
    if inspect.isgeneratorfunction(compute):

        @functools.wraps(compute)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from compute(*args, **kwargs)
            except UserError as error:
                raise _not_retried(error) from error

        return generator  # type: ignore[return-value]

    @functools.wraps(compute)
    def function(*args: Any, **kwargs: Any) -> Any:
        try:
            return compute(*args, **kwargs)
        except UserError as error:
            raise _not_retried(error) from error

    return function  # type: ignore[return-value]
