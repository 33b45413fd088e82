"""Where alerts go: a webhook receiving JSON (Slack, Teams, PagerDuty or Opsgenie style), or only the log.

``MESH_ALERT_WEBHOOK_URL`` configures it (through ``dagster.EnvVar``, so the Dagster UI shows the variable's
name, never its value). Without it, the embedded default logs each alert instead of posting it.

Webhook URLs usually carry their secret in the path or query (``https://hooks.slack.com/services/T0/B0/secret``),
so nothing here ever logs or raises the full URL: messages name ``scheme://host[:port]`` only (:func:`redact_url`).
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
from dagster import ConfigurableResource
from pydantic import Field

logger = logging.getLogger(__name__)

#: Too Many Requests is worth retrying (rate-limited webhooks: Slack, Teams); any other 4xx is our mistake.
RETRYABLE_CLIENT_STATUSES = frozenset({429})
#: How much of a refusal's response body goes into the error (scrubbed of the URL).
MAX_DETAIL_CHARS = 300
USER_AGENT = "investment-data-mesh-alerts/1"


class AlertDeliveryError(RuntimeError):
    """The webhook refused an alert (4xx) or stayed unreachable after every attempt; names the host, not the URL."""


class _TransientDeliveryError(Exception):
    """One attempt failed in a way worth retrying: connection error, timeout, 429 or 5xx (message already redacted)."""


def redact_url(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, with ``/…`` when it had a path or query: never its path, query or user."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        host = parts.hostname or "?"
    except ValueError:
        return "<unparseable webhook URL>"
    hidden = "/…" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return f"{parts.scheme or '?'}://{host}{port}{hidden}"


class AlertWebhookResource(ConfigurableResource):
    """Posts alert payloads as JSON to a webhook, retrying connection errors, timeouts, 429 and 5xx with backoff.

    ``url`` None or empty: alerts are only logged (warning level), which is the embedded default.
    """

    url: str | None = Field(
        default=None,
        repr=False,
        description="webhook receiving alerts as a JSON POST (MESH_ALERT_WEBHOOK_URL); none: alerts are only logged",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="connect and read timeout of one attempt")
    max_attempts: int = Field(default=4, ge=1, description="attempts before giving up (the first one included)")
    backoff_seconds: float = Field(
        default=1.0, ge=0, description="wait before the first retry; doubles after each attempt, capped at 30 s"
    )

    @property
    def enabled(self) -> bool:
        """Whether alerts are posted (a URL is configured) rather than only logged."""
        return bool(self.url and self.url.strip())

    def destination(self) -> str:
        """Where alerts go, safe to log: the webhook's redacted URL, or ``log only``."""
        return redact_url(self.url.strip()) if self.url and self.url.strip() else "log only"

    def post(self, payload: Mapping[str, Any]) -> int | None:
        """POST ``payload`` as JSON; the HTTP status of the accepted attempt, or None when alerts are only logged.

        Connection errors, timeouts, 429 and 5xx are retried with exponential backoff; a 4xx is raised at once.
        Raises :class:`AlertDeliveryError` naming the webhook's host (never the full URL) when it gives up.
        """
        body = orjson.dumps(payload, default=str, option=orjson.OPT_NON_STR_KEYS)
        if not self.enabled:
            logger.warning("alert not posted (no webhook configured, MESH_ALERT_WEBHOOK_URL): %s", body.decode())
            return None
        url = (self.url or "").strip()
        host = redact_url(url)
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise AlertDeliveryError(f"alert webhook {host}: scheme {scheme!r} is not http or https")

        from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            logger.warning(
                "alert webhook %s: attempt %d of %d failed (%s); retrying in %.2f s",
                host, state.attempt_number, self.max_attempts, error, wait,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(_TransientDeliveryError),
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.backoff_seconds, min=self.backoff_seconds, max=30.0),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            status = retrying(self._attempt, url, host, body)
        except _TransientDeliveryError as error:
            attempts = retrying.statistics.get("attempt_number", self.max_attempts)
            raise AlertDeliveryError(
                f"alert webhook {host} did not accept the alert after {attempts} attempt(s): {error}"
            ) from None
        logger.info("alert %s posted to %s (HTTP %d)", payload.get("kind", "?"), host, status)
        return status

    def _attempt(self, url: str, host: str, body: bytes) -> int:
        request = urllib.request.Request(
            url, data=body, method="POST",
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as error:
            detail = _scrub(_response_excerpt(error), url, host)
            if error.code >= 500 or error.code in RETRYABLE_CLIENT_STATUSES:
                raise _TransientDeliveryError(f"HTTP {error.code}{detail}") from None
            raise AlertDeliveryError(
                f"alert webhook {host} refused the alert with HTTP {error.code}{detail} (not retried: a 4xx means "
                "the URL or the payload is wrong)"
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            reason = getattr(error, "reason", None) or error
            raise _TransientDeliveryError(_scrub(f"{type(error).__name__}: {reason}", url, host)) from None


def _response_excerpt(error: urllib.error.HTTPError) -> str:
    try:
        text = error.read(MAX_DETAIL_CHARS + 1).decode("utf-8", "replace").strip()
    except Exception:  # the body is a courtesy: a broken one must not hide the status
        return ""
    finally:
        error.close()
    if len(text) > MAX_DETAIL_CHARS:
        text = text[:MAX_DETAIL_CHARS] + "…"
    return f": {text}" if text else ""


def _scrub(text: str, url: str, host: str) -> str:
    """``text`` without the URL, its path or its query (servers sometimes echo them back)."""
    parts = urlsplit(url)
    for secret in (url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.path, parts.query):
        if secret and secret.strip("/"):
            text = text.replace(secret, host if secret == url else "…")
    return text
