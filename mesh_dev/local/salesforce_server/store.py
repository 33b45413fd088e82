"""The local org's records in SQLite: one row per record, its fields as JSON, safe to share between threads.

Seeded from the firm's Salesforce export (REST query JSON: ``accounts.json``, ``contracts.json``); seeding
never overwrites a record that is already there, so a restarted server keeps the updates it received.
Every create or update stamps ``SystemModstamp`` with millisecond resolution, strictly increasing across
the whole org, as Salesforce does.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any

from mesh_dev.local.salesforce_server.soql import InvalidField, InvalidType, format_datetime, parse_datetime

#: Fields Salesforce maintains itself: a PATCH or POST that sets them is refused.
SYSTEM_FIELDS = frozenset({"Id", "SystemModstamp", "CreatedDate", "LastModifiedDate"})
#: Key prefixes of the objects the platform uses (the first 3 characters of their Ids).
KEY_PREFIXES = {"Account": "001", "Contract": "800"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sobjects (name TEXT PRIMARY KEY, fields TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    sobject TEXT NOT NULL, id TEXT NOT NULL, system_modstamp TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (sobject, id)
);
CREATE INDEX IF NOT EXISTS records_by_modstamp ON records (sobject, system_modstamp, id);
"""


class RecordNotFound(LookupError):
    """No record of that object with that Id (``NOT_FOUND``)."""


class ReadOnlyField(ValueError):
    """A create or update touching a system field (``INVALID_FIELD_FOR_INSERT_UPDATE``)."""


class OrgStore:
    """Records of the local org in a SQLite file; every method is atomic and thread-safe."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        newest = self._db.execute("SELECT max(system_modstamp) FROM records").fetchone()[0]
        self._last_stamp = parse_datetime(newest) if newest else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def seed_from_export(self, export_dir: Path) -> dict[str, int]:
        """Insert the export's records not yet in the store; returns inserted counts per object."""
        inserted: dict[str, int] = {}
        files = sorted(export_dir.glob("*.json"))
        if not files:
            raise FileNotFoundError(f"no Salesforce export (*.json query results) in {export_dir}")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for file in files:
                    try:
                        records = json.loads(file.read_text())["records"]
                    except (KeyError, TypeError, ValueError) as exc:
                        raise ValueError(f"{file} is not a Salesforce query result (no 'records')") from exc
                    for number, record in enumerate(records, start=1):
                        sobject = (record.get("attributes") or {}).get("type")
                        if not sobject or not record.get("Id") or not record.get("SystemModstamp"):
                            raise ValueError(f"{file}, record {number}: needs attributes.type, Id and SystemModstamp")
                        body = {k: v for k, v in record.items() if k != "attributes"}
                        self._add_fields(sobject, body)
                        stamp = parse_datetime(body["SystemModstamp"])
                        cursor = self._db.execute(
                            "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?)",
                            (sobject, body["Id"], format_datetime(stamp), json.dumps(body)),
                        )
                        inserted[sobject] = inserted.get(sobject, 0) + cursor.rowcount
                        self._last_stamp = max(self._last_stamp, stamp)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return inserted

    def _add_fields(self, sobject: str, body: dict[str, Any]) -> None:
        row = self._db.execute("SELECT fields FROM sobjects WHERE name = ?", (sobject,)).fetchone()
        fields = json.loads(row[0]) if row else []
        new = [f for f in body if f not in fields]
        if new or row is None:
            self._db.execute("INSERT OR REPLACE INTO sobjects VALUES (?, ?)", (sobject, json.dumps(fields + new)))

    def schemas(self) -> dict[str, list[str]]:
        """Object name -> its field names."""
        with self._lock:
            return {name: json.loads(fields) for name, fields in self._db.execute("SELECT * FROM sobjects")}

    def _fields(self, sobject: str) -> list[str]:
        row = self._db.execute("SELECT fields FROM sobjects WHERE name = ?", (sobject,)).fetchone()
        if row is None:
            raise InvalidType(f"sObject type '{sobject}' is not supported.")
        return json.loads(row[0])

    def records(self, sobject: str) -> list[dict[str, Any]]:
        """Every record of ``sobject`` (fields only, no ``attributes``)."""
        with self._lock:
            self._fields(sobject)
            rows = self._db.execute(
                "SELECT body FROM records WHERE sobject = ? ORDER BY system_modstamp, id", (sobject,)
            )
            return [json.loads(body) for (body,) in rows]

    def get(self, sobject: str, record_id: str) -> dict[str, Any]:
        """One record; :class:`RecordNotFound` names it when absent."""
        with self._lock:
            self._fields(sobject)
            row = self._db.execute(
                "SELECT body FROM records WHERE sobject = ? AND id = ?", (sobject, record_id)
            ).fetchone()
        if row is None:
            raise RecordNotFound(f"{sobject} {record_id} does not exist")
        return json.loads(row[0])

    def _check_writable(self, sobject: str, values: dict[str, Any]) -> None:
        fields = set(self._fields(sobject))
        unknown = sorted(set(values) - fields)
        if unknown:
            raise InvalidField(f"No such column '{unknown[0]}' on sobject of type {sobject}")
        system = sorted(set(values) & SYSTEM_FIELDS)
        if system:
            raise ReadOnlyField(f"Unable to create/update fields: {', '.join(system)}.")

    def _next_stamp(self) -> str:
        clock = dt.datetime.now(dt.UTC)
        now = clock.replace(microsecond=clock.microsecond // 1000 * 1000)
        self._last_stamp = max(now, self._last_stamp + dt.timedelta(milliseconds=1))
        return format_datetime(self._last_stamp)

    def update(self, sobject: str, record_id: str, values: dict[str, Any]) -> str:
        """Set ``values`` on one record and bump its SystemModstamp; returns the new stamp."""
        with self._lock:
            self._check_writable(sobject, values)
            row = self._db.execute(
                "SELECT body FROM records WHERE sobject = ? AND id = ?", (sobject, record_id)
            ).fetchone()
            if row is None:
                raise RecordNotFound(f"{sobject} {record_id} does not exist")
            body = {**json.loads(row[0]), **values}
            body["SystemModstamp"] = stamp = self._next_stamp()
            self._db.execute(
                "UPDATE records SET body = ?, system_modstamp = ? WHERE sobject = ? AND id = ?",
                (json.dumps(body), stamp, sobject, record_id),
            )
            return stamp

    def create(self, sobject: str, values: dict[str, Any]) -> str:
        """Insert a record with a fresh 18-character Id; returns the Id."""
        from mesh_dev.firm.identifiers import BASE62, salesforce_id_suffix

        with self._lock:
            self._check_writable(sobject, values)
            prefix = KEY_PREFIXES.get(sobject, "a00")
            while True:
                id15 = prefix + "Lc" + "".join(secrets.choice(BASE62) for _ in range(10))
                record_id = id15 + salesforce_id_suffix(id15)
                taken = self._db.execute("SELECT 1 FROM records WHERE sobject = ? AND id = ?", (sobject, record_id))
                if taken.fetchone() is None:
                    break
            stamp = self._next_stamp()
            fields = self._fields(sobject)
            body = {f: None for f in fields} | values | {"Id": record_id, "CreatedDate": stamp, "SystemModstamp": stamp}
            self._db.execute("INSERT INTO records VALUES (?, ?, ?, ?)", (sobject, record_id, stamp, json.dumps(body)))
            return record_id
