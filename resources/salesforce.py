"""Salesforce: simple-salesforce against the org (aws) or the local Salesforce-compatible server; or the export.

Backends:

- ``api``: simple-salesforce, one code path for the real org and the local server (``mesh salesforce serve``).
  It logs in with simple-salesforce's own SOAP ``login`` (``SalesforceLogin``) at ``login_url``, by default
  ``https://<domain>.salesforce.com`` (the URL simple-salesforce itself builds from ``domain``), then queries and
  writes through a ``Salesforce`` client bound to the session's instance. For the local server ``login_url`` is
  its ``https://127.0.0.1:<port>`` and ``ca_bundle`` its CA certificate; nothing else differs. The session is ours
  (a ``requests.Session`` pinned to ``ca_bundle`` when set), so an expired session is re-established by logging
  in again (once per call) and API-limit refusals (403 ``REQUEST_LIMIT_EXCEEDED``) are retried with exponential
  back-off; paging follows ``nextRecordsUrl`` page by page, each page retried on its own, and the record count
  is checked against ``totalSize``: a record is never dropped.
- ``export``: the synthetic firm's Salesforce export (``accounts.json``, ``contracts.json``, REST query JSON), the
  local default when no server is configured. Read-only.

Credentials come only from fields set with ``dagster.EnvVar``; they are never logged nor put in an error.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

logger = logging.getLogger(__name__)

_EXPORT_FILES = {"Account": "accounts.json", "Contract": "contracts.json"}
#: Fields every change read carries: the change cursor orders and de-duplicates on them.
CURSOR_FIELDS = ("Id", "SystemModstamp")
T = TypeVar("T")


class SalesforceRateLimited(RuntimeError):
    """The org kept refusing calls for its API limit (``REQUEST_LIMIT_EXCEEDED``) after every retry."""


class SalesforceIncompleteRead(RuntimeError):
    """A paged query returned fewer or more records than its ``totalSize``."""


def soql_datetime(since_iso: str) -> str:
    """``since_iso`` (ISO 8601 or Salesforce's ``...+0000``; naive means UTC) as a SOQL datetime literal.

    Floored to the whole second (SOQL's documented ``YYYY-MM-DDThh:mm:ssZ``): reading a little more is safe,
    the change cursor drops versions it has already seen.
    """
    text = since_iso.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not an ISO datetime for a SystemModstamp lower bound: {since_iso!r}") from exc
    moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _api_session(ca_bundle: str | None, timeout_s: float):
    """A requests session with a default timeout, trusting only ``ca_bundle`` when it is set.

    requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` override a session's own ``verify``; here the
    configured bundle wins, so the local server's CA is used even where those variables are set.
    """
    import requests

    class ApiSession(requests.Session):
        def request(self, method, url, *args, **kwargs):
            kwargs.setdefault("timeout", timeout_s)
            return super().request(method, url, *args, **kwargs)

        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if ca_bundle and verify in (None, True):
                settings["verify"] = ca_bundle
            return settings

    session = ApiSession()
    if ca_bundle:
        session.verify = ca_bundle
    return session


def _is_rate_limited(exc: BaseException) -> bool:
    from simple_salesforce.exceptions import SalesforceRefusedRequest

    if not isinstance(exc, SalesforceRefusedRequest):
        return False
    content = exc.content if isinstance(exc.content, list) else [exc.content]
    return any(isinstance(e, dict) and e.get("errorCode") == "REQUEST_LIMIT_EXCEEDED" for e in content)


class SalesforceResource(ConfigurableResource):
    """Reads Salesforce records (accounts, contracts) as REST query results, and writes fields back."""

    backend: str = Field(description="'export' (local JSON export) or 'api' (simple-salesforce)")
    export_dir: str | None = Field(default=None, description="folder of accounts.json / contracts.json (export)")
    username: str | None = Field(default=None, description="API user (api)")
    password: str | None = Field(default=None, description="API password (api)")
    security_token: str | None = Field(default=None, description="API security token (api)")
    domain: str | None = Field(default=None, description="'login', 'test' or a My Domain host (api)")
    login_url: str | None = Field(
        default=None,
        description="login base URL (api): default https://<domain>.salesforce.com; the local server's URL locally",
    )
    ca_bundle: str | None = Field(
        default=None, description="PEM CA bundle to trust instead of the system's (api; the local server's ca.pem)"
    )
    api_version: str = Field(default="62.0", description="REST API version, without 'v' (api)")
    request_timeout_s: float = Field(default=60.0, description="timeout of each HTTP call, seconds (api)")
    rate_limit_attempts: int = Field(default=6, description="attempts per call while the API limit is exceeded")
    rate_limit_initial_wait_s: float = Field(default=1.0, description="first back-off wait, seconds (doubles)")
    rate_limit_max_wait_s: float = Field(default=60.0, description="longest back-off wait, seconds")

    _client: Any = PrivateAttr(default=None)

    # -- reads --------------------------------------------------------------------------------------------------

    def records(self, sobject: str, fields: list[str]) -> list[dict[str, Any]]:
        """All records of ``sobject`` with ``fields``, ordered by ``SystemModstamp, Id``."""
        if self.backend == "export":
            return [{f: r.get(f) for f in fields} for r in self._export_rows(sobject)]
        if self.backend == "api":
            soql = f"SELECT {', '.join(fields)} FROM {sobject} ORDER BY SystemModstamp, Id"
            return [{f: r.get(f) for f in fields} for r in self._query_all(soql, f"reading {sobject}")]
        raise self._unknown_backend()

    def changed_since(self, sobject: str, fields: list[str], since_iso: str | None) -> list[dict[str, Any]]:
        """Records of ``sobject`` whose ``SystemModstamp`` is at or after ``since_iso`` (all when None).

        Ordered by ``SystemModstamp, Id``; each record has ``fields`` plus ``Id`` and ``SystemModstamp``.
        The bound is floored to the second, so a record stamped just before ``since_iso`` may come back too.
        """
        selected = list(dict.fromkeys([*CURSOR_FIELDS, *fields]))
        bound = soql_datetime(since_iso) if since_iso else None
        if self.backend == "export":
            rows = self._export_rows(sobject)
            if bound:
                floor = dt.datetime.fromisoformat(bound.replace("Z", "+00:00"))
                rows = [r for r in rows if _modstamp(r) >= floor]
            return [{f: r.get(f) for f in selected} for r in rows]
        if self.backend == "api":
            where = f" WHERE SystemModstamp >= {bound}" if bound else ""
            soql = f"SELECT {', '.join(selected)} FROM {sobject}{where} ORDER BY SystemModstamp, Id"
            what = f"reading {sobject} changed since {bound or 'the beginning'}"
            return [{f: r.get(f) for f in selected} for r in self._query_all(soql, what)]
        raise self._unknown_backend()

    # -- writes -------------------------------------------------------------------------------------------------

    def update(self, sobject: str, record_id: str, values: dict[str, Any]) -> None:
        """Set ``values`` on one record (a PATCH); Salesforce bumps its ``SystemModstamp``."""
        if self.backend != "api":
            raise ValueError(
                f"cannot update {sobject} {record_id}: the {self.backend!r} Salesforce backend is read-only "
                "(use backend 'api' with the org or the local server)"
            )
        self._call(f"updating {sobject} {record_id}", lambda client: getattr(client, sobject).update(record_id, values))

    def update_many(self, sobject: str, updates: Mapping[str, Mapping[str, Any]]) -> dict[str, str | None]:
        """Set values on many records with sObject Collections (200 per call): record id -> None when updated,
        else the error Salesforce gave for that record. One bad record does not stop the others."""
        import json

        if self.backend != "api":
            raise ValueError(f"cannot update {sobject} records: the {self.backend!r} Salesforce backend is read-only")
        outcome: dict[str, str | None] = {}
        ids = list(updates)
        for start in range(0, len(ids), 200):
            chunk = ids[start:start + 200]
            body = {"allOrNone": False, "records": [
                {"attributes": {"type": sobject}, "id": record_id, **updates[record_id]} for record_id in chunk]}
            payload = json.dumps(body)
            results = self._call(
                f"updating {len(chunk)} {sobject} records",
                lambda client, data=payload: client.restful("composite/sobjects", method="PATCH", data=data),
            )
            for record_id, result in zip(chunk, results, strict=True):
                errors = result.get("errors") or []
                outcome[record_id] = None if result.get("success") else (
                    "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors) or "not updated")
        return outcome

    def create(self, sobject: str, values: dict[str, Any]) -> str:
        """Insert one record (a POST) and return its new ``Id``."""
        if self.backend != "api":
            raise ValueError(f"cannot create a {sobject}: the {self.backend!r} Salesforce backend is read-only")
        result = self._call(f"creating a {sobject}", lambda client: getattr(client, sobject).create(values))
        return result["id"]

    # -- internals ----------------------------------------------------------------------------------------------

    def _unknown_backend(self) -> ValueError:
        return ValueError(f"unknown Salesforce backend {self.backend!r}; expected 'export' or 'api'")

    def _export_rows(self, sobject: str) -> list[dict[str, Any]]:
        import orjson

        if sobject not in _EXPORT_FILES:
            raise ValueError(f"the Salesforce export has no {sobject} file (known: {', '.join(_EXPORT_FILES)})")
        path = Path(self.export_dir or ".") / _EXPORT_FILES[sobject]
        if not path.is_file():
            raise FileNotFoundError(f"Salesforce export for {sobject} not found at {path}")
        rows = orjson.loads(path.read_bytes())["records"]
        return sorted(rows, key=lambda r: (_modstamp(r), r.get("Id") or ""))

    def _login(self):
        """A fresh simple-salesforce client: SOAP login at ``login_url``, then a client on that session."""
        from simple_salesforce import Salesforce
        from simple_salesforce.login import SalesforceLogin

        missing = [name for name in ("username", "password", "security_token") if getattr(self, name) is None]
        if missing:
            raise ValueError(f"the Salesforce 'api' backend needs {', '.join(missing)} (set them with EnvVar)")
        login_url = (self.login_url or f"https://{self.domain or 'login'}.salesforce.com").rstrip("/")
        session = _api_session(self.ca_bundle, self.request_timeout_s)
        session_id, instance = SalesforceLogin(
            username=self.username,
            password=self.password,
            security_token=self.security_token,
            sf_version=self.api_version,
            session=session,
            scratch_url=login_url,
        )
        logger.info("logged in to Salesforce at %s (instance %s)", login_url, instance)
        self._client = Salesforce(session_id=session_id, instance=instance, session=session, version=self.api_version)
        return self._client

    def _call(self, what: str, operation: Callable[[Any], T]) -> T:
        """``operation(client)``: re-login once on an expired session, back off while the API limit is exceeded."""
        import tenacity
        from simple_salesforce.exceptions import SalesforceExpiredSession

        def attempt() -> T:
            client = self._client or self._login()
            try:
                return operation(client)
            except SalesforceExpiredSession:
                logger.info("Salesforce session expired while %s; logging in again", what)
                return operation(self._login())

        def log_wait(state: tenacity.RetryCallState) -> None:
            wait_s = state.next_action.sleep if state.next_action else 0.0
            logger.warning(
                "Salesforce API limit exceeded while %s (attempt %d of %d); waiting %.1fs",
                what,
                state.attempt_number,
                self.rate_limit_attempts,
                wait_s,
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_is_rate_limited),
            wait=tenacity.wait_exponential(multiplier=self.rate_limit_initial_wait_s, max=self.rate_limit_max_wait_s),
            stop=tenacity.stop_after_attempt(max(1, self.rate_limit_attempts)),
            before_sleep=log_wait,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except Exception as exc:
            if _is_rate_limited(exc):
                raise SalesforceRateLimited(
                    f"Salesforce API limit still exceeded after {self.rate_limit_attempts} attempts while {what}"
                ) from exc
            raise

    def _query_all(self, soql: str, what: str) -> list[dict[str, Any]]:
        """Every record of ``soql``, page by page through ``nextRecordsUrl``; the count must match ``totalSize``."""
        page = self._call(what, lambda client: client.query(soql))
        total = page["totalSize"]
        records = list(page["records"])
        while not page["done"]:
            next_url = page["nextRecordsUrl"]
            page = self._call(what, lambda client, url=next_url: client.query_more(url, identifier_is_url=True))
            records.extend(page["records"])
        if len(records) != total:
            raise SalesforceIncompleteRead(f"{what}: got {len(records)} records, Salesforce announced {total}")
        return [{k: v for k, v in r.items() if k != "attributes"} for r in records]


def _modstamp(record: dict[str, Any]) -> dt.datetime:
    stamp = str(record.get("SystemModstamp") or "")
    try:
        return dt.datetime.strptime(stamp.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError as exc:
        raise ValueError(f"Salesforce record {record.get('Id')}: SystemModstamp {stamp!r} is not a datetime") from exc
