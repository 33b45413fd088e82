"""The local org's state beside its records: the integration user, sessions, query cursors, API limits.

Thread-safe; the HTTP layer (:mod:`mesh_dev.local.salesforce_server.app`) is its only writer in a
running server, tests and operators act on it through the local-only ``/__local/*`` endpoints.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from mesh_dev.local.salesforce_server.store import OrgStore

ORG_ID = "00DLc0000000001EAA"
USER_ID = "005Lc0000000001AAA"
#: Salesforce keeps an idle query cursor for 15 minutes.
CURSOR_IDLE_S = 15 * 60
MAX_OPEN_CURSORS = 100


@dataclass(frozen=True)
class LocalCredentials:
    """The one integration user of the local org (local-only values: never a real org's)."""

    username: str = "integration@mesh.local"
    password: str = "local-password"
    security_token: str = "localtoken"


@dataclass
class QueryCursor:
    """The rows of a query not yet returned, as Salesforce keeps them server-side behind a locator."""

    sobject: str
    rows: list[dict[str, Any]]
    touched: float = field(default_factory=time.monotonic)


class InvalidQueryLocator(LookupError):
    """A ``nextRecordsUrl`` whose cursor is unknown or expired (``INVALID_QUERY_LOCATOR``)."""


class LocalOrg:
    """Sessions, cursors, API-limit simulation and counters around an :class:`OrgStore`."""

    def __init__(
        self,
        store: OrgStore,
        credentials: LocalCredentials,
        page_size: int = 2000,
        session_lifetime_s: float = 2 * 3600,
        daily_api_limit: int = 15000,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be positive, got {page_size}")
        self.store = store
        self.credentials = credentials
        self.page_size = page_size
        self.session_lifetime_s = session_lifetime_s
        self.daily_api_limit = daily_api_limit
        self._lock = threading.Lock()
        self._sessions: dict[str, float] = {}
        self._cursors: OrderedDict[str, QueryCursor] = OrderedDict()
        self._refuse_next = 0
        self._admit_first = 0
        self._counters = {"logins": 0, "login_failures": 0, "api_calls": 0, "invalid_session": 0, "rate_limited": 0}

    # -- authentication -------------------------------------------------------------------------------------------

    def login(self, username: str, password_and_token: str) -> str | None:
        """A new session id when the credentials are the integration user's, else None."""
        expected = self.credentials.password + self.credentials.security_token
        valid = hmac.compare_digest(username.encode(), self.credentials.username.encode()) and hmac.compare_digest(
            password_and_token.encode(), expected.encode()
        )
        with self._lock:
            if not valid:
                self._counters["login_failures"] += 1
                return None
            self._counters["logins"] += 1
            session_id = f"{ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
            self._sessions[session_id] = time.monotonic() + self.session_lifetime_s
            return session_id

    def session_valid(self, session_id: str | None) -> bool:
        """Whether ``session_id`` is a live session (an invalid one is counted)."""
        with self._lock:
            expires = self._sessions.get(session_id or "")
            if expires is not None and expires > time.monotonic():
                return True
            self._sessions.pop(session_id or "", None)
            self._counters["invalid_session"] += 1
            return False

    def expire_sessions(self) -> int:
        """End every session (as an admin or a timeout would); returns how many were live."""
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
            return count

    # -- API limits -----------------------------------------------------------------------------------------------

    def refuse_next(self, requests: int, after: int = 0) -> None:
        """Answer ``requests`` API calls with 403 ``REQUEST_LIMIT_EXCEEDED``, once ``after`` more calls have passed."""
        if requests < 0 or after < 0:
            raise ValueError(f"requests and after must be >= 0, got {requests} and {after}")
        with self._lock:
            self._admit_first, self._refuse_next = after, requests

    def admit_api_call(self) -> bool:
        """Count an API call; False when it must be refused for the API limit."""
        with self._lock:
            if self._admit_first > 0:
                self._admit_first -= 1
            elif self._refuse_next > 0:
                self._refuse_next -= 1
                self._counters["rate_limited"] += 1
                return False
            self._counters["api_calls"] += 1
            return True

    def limit_info(self) -> str:
        """The ``Sforce-Limit-Info`` header value."""
        with self._lock:
            return f"api-usage={self._counters['api_calls']}/{self.daily_api_limit}"

    def stats(self) -> dict[str, int]:
        """Counters since the start: logins, failed logins, API calls, 401s and 403s served, live sessions."""
        with self._lock:
            return {**self._counters, "live_sessions": len(self._sessions), "open_cursors": len(self._cursors)}

    # -- query cursors --------------------------------------------------------------------------------------------

    def open_cursor(self, sobject: str, rows: list[dict[str, Any]]) -> str:
        """Keep ``rows`` behind a new query locator (``01g...``)."""
        with self._lock:
            self._evict()
            locator = "01g" + secrets.token_hex(8)[:15]
            self._cursors[locator] = QueryCursor(sobject, rows)
            return locator

    def read_cursor(self, locator: str, offset: int, count: int) -> tuple[list[dict[str, Any]], bool, int]:
        """Rows ``offset .. offset + count`` of a cursor: (rows, done, total rows); a page can be read again."""
        with self._lock:
            self._evict()
            cursor = self._cursors.get(locator)
            if cursor is None or not 0 <= offset <= len(cursor.rows):
                raise InvalidQueryLocator(f"invalid query locator {locator}-{offset}")
            cursor.touched = time.monotonic()
            self._cursors.move_to_end(locator)
            rows = cursor.rows[offset : offset + count]
            return rows, offset + count >= len(cursor.rows), len(cursor.rows)

    def _evict(self) -> None:
        now = time.monotonic()
        for locator in [k for k, c in self._cursors.items() if now - c.touched > CURSOR_IDLE_S]:
            del self._cursors[locator]
        while len(self._cursors) >= MAX_OPEN_CURSORS:
            self._cursors.popitem(last=False)
