"""The local exchange: ADX's publication protocol on immutable revision folders, data grants in SQLite.

Layout under ``root``::

    data_sets/<data set>/revisions/<revision id>/   the product files + revision.json (finalized, never rewritten)
    data_sets/<data set>/.staging-<uuid>/           a publication being written (removed if a crash left it)
    data_sets/<data set>/.publish.lock              serialises publishers of the data set (flock)
    grants.db                                       data grants (SQLite)

A revision appears only through one atomic rename of a complete, fsynced staging folder, so a reader
never sees a half-written revision and a crash leaves at most a staging folder, cleaned by the next
publish. Publishers of one data set take an exclusive lock, so two runs publishing the same content
at once end with exactly one revision.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from resources.adx_exchange.exchange import (
    CONTENT_HASH_TAG,
    AdxGrantError,
    AdxPublishError,
    DataGrant,
    PublishedRevision,
    check_grant_request,
    is_expired,
)

if TYPE_CHECKING:
    from resources.adx_exchange.product_files import ProductFiles

REVISION_FILE = "revision.json"
STAGING_PREFIX = ".staging-"
_DATA_SET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_GRANTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_grants (
    grant_id TEXT PRIMARY KEY,
    data_set TEXT NOT NULL,
    receiver_account TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    ends_at TEXT,
    created_at TEXT NOT NULL,
    acceptance_state TEXT NOT NULL
)
"""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_data_set_id(data_set: str) -> str:
    """The local stand-in for an ADX data set id: 32 hex characters derived from the name (stable)."""
    return hashlib.sha256(f"data-set:{data_set}".encode()).hexdigest()[:32]


class LocalExchange:
    """Revisions as immutable folders under ``root``, data grants in ``root/grants.db``."""

    def __init__(self, root: Path, now: Callable[[], dt.datetime] = _utc_now, lock_timeout_s: float = 30.0) -> None:
        self.root = Path(root)
        self._now = now
        #: How long a grant call waits for another writer's lock on grants.db before it fails.
        self.lock_timeout_s = lock_timeout_s

    # -- revisions ---------------------------------------------------------------------------------------------

    def publish(self, data_set: str, product_files: ProductFiles, comment: str) -> PublishedRevision:
        """Publish the files as a new finalized revision, or return the revision already holding this content."""
        folder = self._data_set_folder(data_set)
        revisions_folder = folder / "revisions"
        revisions_folder.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(folder / ".publish.lock"):
            _remove_stale_staging(folder)
            for revision in self.revisions(data_set):
                if revision.content_hash == product_files.content_hash:
                    return _replace_created(revision, created=False)
            revision_id = uuid.uuid4().hex
            staging = folder / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
            target = revisions_folder / revision_id
            try:
                staging.mkdir()
                asset_names = tuple(sorted(product_files.files))
                for name in asset_names:
                    _write_synced(staging / name, product_files.files[name])
                created_at = self._now()
                record = {
                    "revision_id": revision_id,
                    "data_set": data_set,
                    "data_set_id": local_data_set_id(data_set),
                    "comment": comment,
                    "tags": {CONTENT_HASH_TAG: product_files.content_hash},
                    "content_hash": product_files.content_hash,
                    "created_at": created_at.isoformat(),
                    "finalized": True,
                    "asset_names": list(asset_names),
                    "product": product_files.manifest.get("product"),
                    "partition": product_files.manifest.get("partition"),
                    "row_count": product_files.row_count,
                }
                _write_synced(staging / REVISION_FILE, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
                _fsync_directory(staging)
                if target.exists():  # a uuid4 collision; never overwrite a revision
                    raise FileExistsError(f"revision folder {target} already exists")
                os.rename(staging, target)
                _fsync_directory(revisions_folder)
            except OSError as error:
                shutil.rmtree(staging, ignore_errors=True)
                raise AdxPublishError(
                    f"data set {data_set!r}: could not write revision {revision_id} under {folder}: {error}"
                ) from error
        return _revision_from_record(record, target, created=True)

    def revisions(self, data_set: str) -> list[PublishedRevision]:
        """The data set's finalized revisions, oldest first; staging folders are never listed."""
        revisions_folder = self._data_set_folder(data_set) / "revisions"
        if not revisions_folder.is_dir():
            return []
        found = []
        for folder in revisions_folder.iterdir():
            record_path = folder / REVISION_FILE
            if folder.name.startswith(".") or not record_path.is_file():
                continue
            record = json.loads(record_path.read_text())
            if record.get("finalized") is True:
                found.append(_revision_from_record(record, folder, created=False))
        return sorted(found, key=lambda revision: (revision.created_at, revision.revision_id))

    def _data_set_folder(self, data_set: str) -> Path:
        if not _DATA_SET_NAME.match(data_set):
            raise AdxPublishError(f"data set name {data_set!r} is not a valid folder name")
        return self.root / "data_sets" / data_set

    # -- data grants -------------------------------------------------------------------------------------------

    def list_grants(self) -> list[DataGrant]:
        """Every data grant, oldest first; one whose ``ends_at`` has passed is flagged ``expired``."""
        now = self._now()
        with self._grants_db() as connection:
            rows = connection.execute(
                "SELECT grant_id, data_set, receiver_account, name, description, ends_at, created_at, acceptance_state"
                " FROM data_grants ORDER BY created_at, grant_id"
            ).fetchall()
        return [_grant_from_row(row, now) for row in rows]

    def create_grant(
        self, data_set: str, receiver_account: str, name: str, ends_at: dt.datetime | None, description: str
    ) -> DataGrant:
        """Grant ``data_set`` to ``receiver_account`` until ``ends_at``; locally the receiver accepts at once."""
        now = self._now()
        check_grant_request(data_set, receiver_account, ends_at, now)
        grant_id = uuid.uuid4().hex
        row = (
            grant_id,
            data_set,
            receiver_account,
            name,
            description,
            ends_at.astimezone(dt.UTC).isoformat() if ends_at else None,
            now.astimezone(dt.UTC).isoformat(),
            "ACCEPTED",  # no receiving account exists locally to accept it
        )
        with self._grants_db() as connection:
            connection.execute("INSERT INTO data_grants VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
        return _grant_from_row(row, now)

    def delete_grant(self, grant_id: str) -> None:
        """Delete a data grant; an unknown id is an error naming it."""
        with self._grants_db() as connection:
            deleted = connection.execute("DELETE FROM data_grants WHERE grant_id = ?", (grant_id,)).rowcount
        if deleted == 0:
            raise AdxGrantError(f"data grant {grant_id} does not exist in {self.root / 'grants.db'}")

    @contextlib.contextmanager
    def _grants_db(self) -> Iterator[sqlite3.Connection]:
        self.root.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.root / "grants.db", timeout=self.lock_timeout_s)
        try:
            with connection:
                connection.execute(_GRANTS_SCHEMA)
                yield connection
        finally:
            connection.close()


def _revision_from_record(record: dict, folder: Path, created: bool) -> PublishedRevision:
    return PublishedRevision(
        data_set=record["data_set"],
        data_set_id=record["data_set_id"],
        revision_id=record["revision_id"],
        content_hash=record["tags"][CONTENT_HASH_TAG],
        created=created,
        asset_names=tuple(record["asset_names"]),
        location=str(folder),
        created_at=dt.datetime.fromisoformat(record["created_at"]),
    )


def _replace_created(revision: PublishedRevision, created: bool) -> PublishedRevision:
    from dataclasses import replace

    return replace(revision, created=created)


def _grant_from_row(row: tuple, now: dt.datetime) -> DataGrant:
    grant_id, data_set, receiver_account, name, description, ends_at, created_at, acceptance_state = row
    ends = dt.datetime.fromisoformat(ends_at) if ends_at else None
    return DataGrant(
        grant_id=grant_id,
        data_set=data_set,
        receiver_account=receiver_account,
        name=name,
        ends_at=ends,
        created_at=dt.datetime.fromisoformat(created_at),
        description=description,
        acceptance_state=acceptance_state,
        expired=is_expired(ends, now),
    )


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``; the kernel releases it if the process dies."""
    import fcntl

    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove_stale_staging(folder: Path) -> None:
    """Remove staging folders a crashed publisher left (safe: the caller holds the data set's lock)."""
    for entry in folder.iterdir():
        if entry.name.startswith(STAGING_PREFIX) and entry.is_dir():
            shutil.rmtree(entry)


def _write_synced(path: Path, content: bytes) -> None:
    with open(path, "xb") as handle:  # "x": never overwrite
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
