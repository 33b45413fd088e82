"""The files expired snapshots leave behind: found by reachability, deleted after the expiry committed.

pyiceberg 0.12's ``ExpireSnapshots`` removes snapshots from the table metadata and deletes no file (its orphan-file
clean-up was proposed upstream, apache/iceberg-python#3358, and not merged). Iceberg's Java ``ExpireSnapshots``
deletes the data, delete and manifest files and the manifest lists that only expired snapshots reached; this module
does the same, so an expiry frees the storage of compacted-away small files and of superseded rebuilds.

A file is deleted only when no snapshot the committed metadata still holds reaches it. Reading every kept snapshot's
manifest list would cost the trade worker's hot table (a commit a second, 24 h kept, expired every 10 minutes) ~86,000
reads per expiry, so the kept side is read only at the root of each chain of kept snapshots (a kept snapshot whose
parent is not kept): a snapshot's live files are its parent's plus the ones it added, so a file no kept snapshot
added is live in some kept snapshot only if it is live in that snapshot's chain root. Files and manifests a kept
snapshot added are never deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.table.snapshots import Snapshot

#: How many failed deletions a report names (each with its reason).
FAILURES_SHOWN = 5


@dataclass(frozen=True)
class FileRemoval:
    """What deleting the expired snapshots' files did: how many were deleted, and the ones that could not be."""

    deleted: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)


def reachable_files(io: FileIO, snapshots: Iterable[Snapshot]) -> set[str]:
    """Every file the ``snapshots`` reach: their manifest lists, manifests and the files live in those manifests."""
    paths: set[str] = set()
    read: set[str] = set()
    for snapshot in snapshots:
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            paths.add(manifest.manifest_path)
            if manifest.manifest_path in read:  # manifests are shared between snapshots: read each once
                continue
            read.add(manifest.manifest_path)
            paths.update(entry.data_file.file_path for entry in manifest.fetch_manifest_entry(io, discard_deleted=True))
    return paths


def remove_unreachable(io: FileIO, expired: Iterable[Snapshot], kept: Iterable[Snapshot]) -> FileRemoval:
    """Delete the files the ``expired`` snapshots reached and no ``kept`` snapshot does; call it only after the
    expiry committed. A file that cannot be deleted is counted and named, never raised: it is only storage."""
    kept = list(kept)
    kept_ids = {s.snapshot_id for s in kept}
    roots = [s for s in kept if s.parent_snapshot_id not in kept_ids]
    candidates: set[str] = set()
    read: set[str] = set()
    for snapshot in expired:
        candidates.add(snapshot.manifest_list)
        try:
            manifests = snapshot.manifests(io)
        except FileNotFoundError:  # removed before: what it reached was removed first (or stays for orphan clean-up)
            continue
        for manifest in manifests:
            if manifest.added_snapshot_id in kept_ids or manifest.manifest_path in read:
                continue
            read.add(manifest.manifest_path)
            candidates.add(manifest.manifest_path)
            try:
                entries = manifest.fetch_manifest_entry(io, discard_deleted=True)
            except FileNotFoundError:
                continue
            candidates.update(e.data_file.file_path for e in entries
                              if e.snapshot_id is not None and e.snapshot_id not in kept_ids)
    deleted, failures = 0, []
    # data and delete files first, manifests next, manifest lists last: an interrupted removal leaves no list
    # pointing at a missing manifest
    for path in sorted(candidates - reachable_files(io, roots), key=lambda p: ("/snap-" in p, p.endswith(".avro"), p)):
        try:
            io.delete(path)
            deleted += 1
        except FileNotFoundError:
            deleted += 1  # an earlier, interrupted removal got to it first
        except OSError as error:
            failures.append(f"{path}: {type(error).__name__}: {error}"[:300])
    return FileRemoval(deleted, len(failures), failures[:FAILURES_SHOWN])
