"""Run the local Salesforce server: uvicorn over HTTPS in a background thread of this process.

A data folder holds::

    org.sqlite     the org's records (seeded from the firm's export, keeps every update)
    tls/ca.pem     the local CA that clients trust (``verify=``), kept across restarts; tls/ca.key its key
    tls/server.pem the server's key and certificate (127.0.0.1, localhost), issued at every start
    server.json    url, port and CA path of the running server (removed by stop)
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh_dev.local.salesforce_server.org import LocalCredentials, LocalOrg
from mesh_dev.local.salesforce_server.store import OrgStore

DEFAULT_PORT = 18443
DEFAULT_PAGE_SIZE = 2000


class SalesforceServerError(RuntimeError):
    """The local Salesforce server could not start; the message says why."""


@dataclass
class ServerInfo:
    """A running local server: where it listens, the CA to trust, its integration user; ``stop()`` ends it."""

    url: str
    port: int
    ca_pem_path: Path
    data_dir: Path
    credentials: LocalCredentials
    org: LocalOrg
    seeded: dict[str, int]
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving, wait for the thread, close the database (idempotent)."""
        self._server.should_exit = True
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self.org.store.close()
        (self.data_dir / "server.json").unlink(missing_ok=True)

    def client_environment(self) -> dict[str, str]:
        """The variables that point the local resources' Salesforce client at this server (local-only values)."""
        return {
            "MESH_SALESFORCE_URL": self.url, "MESH_SALESFORCE_CA_BUNDLE": str(self.ca_pem_path),
            "SALESFORCE_USERNAME": self.credentials.username, "SALESFORCE_PASSWORD": self.credentials.password,
            "SALESFORCE_SECURITY_TOKEN": self.credentials.security_token,
        }

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C still interrupts)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def __enter__(self) -> ServerInfo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _NothingCancelled(logging.Filter):
    """Drops uvicorn's "Cancel 0 running task(s), timeout graceful shutdown exceeded" (logged as ERROR).

    A client that keeps its HTTPS connection alive (simple-salesforce's session) holds the shutdown for
    ``timeout_graceful_shutdown``; uvicorn then reports cancelling tasks even when there are none.
    Cancelling real tasks is still reported.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        return not (message.startswith("Cancel %s running task(s)") and record.args and record.args[0] == 0)


def _quiet_idle_shutdown() -> None:
    uvicorn_error = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _NothingCancelled) for f in uvicorn_error.filters):
        uvicorn_error.addFilter(_NothingCancelled())


def start_server(
    data_dir: Path,
    export_dir: Path | None = None,
    port: int = 0,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    credentials: LocalCredentials | None = None,
    session_lifetime_s: float = 2 * 3600,
    wait_s: float = 20.0,
) -> ServerInfo:
    """Start the server on 127.0.0.1:``port`` (0 = any free port) and return once it accepts connections.

    ``export_dir`` (the firm's ``salesforce/`` folder) seeds records not already in ``data_dir``'s store.
    """
    import uvicorn

    from mesh_dev.local.salesforce_server.app import build_app
    from mesh_dev.local.salesforce_server.tls import local_tls

    data_dir = Path(data_dir).resolve()
    store = OrgStore(data_dir / "org.sqlite")
    seeded = store.seed_from_export(Path(export_dir)) if export_dir is not None else {}
    credentials = credentials or LocalCredentials()
    org = LocalOrg(store, credentials, page_size=page_size, session_lifetime_s=session_lifetime_s)
    tls = local_tls(data_dir / "tls")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        store.close()
        raise SalesforceServerError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        build_app(org),
        ssl_certfile=str(tls.server_pem),
        ssl_keyfile=str(tls.server_pem),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    _quiet_idle_shutdown()  # after uvicorn.Config: it (re)configures its loggers
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"salesforce-{bound}", daemon=True)
    thread.start()
    deadline = time.monotonic() + wait_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            store.close()
            raise SalesforceServerError(f"the local Salesforce server did not start on 127.0.0.1:{bound}")
        time.sleep(0.02)
    url = f"https://127.0.0.1:{bound}"
    (data_dir / "server.json").write_text(
        json.dumps({"url": url, "port": bound, "ca_pem": str(tls.ca_pem), "username": credentials.username})
    )
    return ServerInfo(url, bound, tls.ca_pem, data_dir, credentials, org, seeded, server, thread)
