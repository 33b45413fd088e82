"""The aws exchange: revisions and data grants in AWS Data Exchange (boto3 ``dataexchange`` client).

Publishing follows ADX's protocol: upload the files to the S3 staging prefix, ``create_revision`` tagged
with the content hash, ``create_job(IMPORT_ASSETS_FROM_S3)``, ``start_job``, poll ``get_job`` until it
completes (or the timeout, then ``cancel_job``), and only then ``update_revision(Finalized=True)``.

Idempotence comes from the tag ``mesh:content-hash``: before creating anything, the data set's revisions
are searched for one carrying the hash. ``ListDataSetRevisions`` does not return tags, so the revision
comment also carries ``[mesh:content-hash=<hash>]`` to pick the candidates; the tag (``get_revision``)
decides. A finalized one is returned as is; an unfinalized one (a crashed publisher) is deleted and the
content published again, never finalized blindly. Any failure after ``create_revision`` deletes the
unfinalized revision so that a retry starts clean.

Data sets are created by infrastructure, not here: a missing data set is an error naming it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

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

#: Job states after which ``get_job`` polling stops without success.
FAILED_JOB_STATES = frozenset({"ERROR", "CANCELLED", "TIMED_OUT"})


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def content_hash_marker(content_hash: str) -> str:
    """The marker appended to a revision's comment, so candidates are found without reading every revision."""
    return f"[{CONTENT_HASH_TAG}={content_hash}]"


class _ImportFailed(Exception):
    def __init__(self, job_id: str, detail: str) -> None:
        super().__init__(detail)
        self.job_id = job_id


class AwsExchange:
    """AWS Data Exchange through boto3 clients (``dataexchange`` and ``s3``)."""

    def __init__(
        self,
        client: Any,
        s3_client: Any,
        staging_root: str,
        import_timeout_s: float = 600,
        poll_interval_s: float = 5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        if not staging_root.startswith("s3://") or not staging_root.removeprefix("s3://").split("/")[0]:
            raise ValueError(f"ADX staging root {staging_root!r} must be an s3://bucket[/prefix] URI")
        bucket, _, prefix = staging_root.removeprefix("s3://").partition("/")
        self.client = client
        self.s3_client = s3_client
        self.staging_bucket = bucket
        self.staging_prefix = prefix.strip("/")
        self.import_timeout_s = import_timeout_s
        self.poll_interval_s = poll_interval_s
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._data_set_ids: dict[str, list[str]] | None = None

    # -- data sets ---------------------------------------------------------------------------------------------

    def data_set_id(self, data_set: str) -> str:
        """The id of the owned data set named ``data_set`` (listed once, listed again if not found)."""
        if self._data_set_ids is None or data_set not in self._data_set_ids:
            self._data_set_ids = self._owned_data_sets()
        ids = self._data_set_ids.get(data_set, [])
        if not ids:
            raise LookupError(
                f"ADX data set {data_set!r} does not exist in this account (owned data sets are created by "
                "infrastructure, not by the publisher)"
            )
        if len(ids) > 1:
            raise LookupError(f"ADX data set name {data_set!r} is ambiguous: owned data sets {sorted(ids)}")
        return ids[0]

    def _owned_data_sets(self) -> dict[str, list[str]]:
        names: dict[str, list[str]] = {}
        for data_set in _paged(self.client.list_data_sets, "DataSets", Origin="OWNED"):
            names.setdefault(data_set["Name"], []).append(data_set["Id"])
        return names

    def _data_set_name(self, data_set_id: str) -> str:
        if self._data_set_ids is None:
            self._data_set_ids = self._owned_data_sets()
        for name, ids in self._data_set_ids.items():
            if data_set_id in ids:
                return name
        return data_set_id

    # -- revisions ---------------------------------------------------------------------------------------------

    def publish(self, data_set: str, product_files: ProductFiles, comment: str) -> PublishedRevision:
        """Publish the files as a finalized revision, or return the finalized revision tagged with their hash."""
        errors = _aws_errors()
        content_hash = product_files.content_hash
        try:
            data_set_id = self.data_set_id(data_set)
        except LookupError as error:
            raise AdxPublishError(str(error)) from error
        except errors as error:
            raise AdxPublishError(f"data set {data_set!r}: could not list owned data sets: {error}") from error
        keys = {name: self._staging_key(data_set, content_hash, name) for name in sorted(product_files.files)}
        try:
            tagged = self._tagged_revisions(data_set_id, content_hash)
            for revision in tagged:
                if revision.get("Finalized") and not revision.get("Revoked"):
                    return self._published(data_set, data_set_id, revision, content_hash, False, tuple(keys.values()))
            for revision in tagged:
                if not revision.get("Finalized"):  # left by a crashed publisher: never finalize it blindly
                    self.client.delete_revision(DataSetId=data_set_id, RevisionId=revision["Id"])
        except errors as error:
            raise AdxPublishError(
                f"data set {data_set!r} ({data_set_id}): could not look for revisions tagged "
                f"{CONTENT_HASH_TAG}={content_hash}: {error}"
            ) from error
        self._upload(data_set, product_files, keys)
        try:
            revision = self.client.create_revision(
                DataSetId=data_set_id,
                Comment=f"{comment} {content_hash_marker(content_hash)}".strip(),
                Tags={CONTENT_HASH_TAG: content_hash},
            )
        except errors as error:
            raise AdxPublishError(f"data set {data_set!r} ({data_set_id}): create_revision failed: {error}") from error
        revision_id = revision["Id"]
        job_id = None
        try:
            job_id = self._import_assets(data_set_id, revision_id, list(keys.values()))
            finalized = self.client.update_revision(DataSetId=data_set_id, RevisionId=revision_id, Finalized=True)
        except Exception as error:  # whatever failed, nothing is finalized and the revision goes
            job_id = error.job_id if isinstance(error, _ImportFailed) else job_id
            cleanup = self._delete_unfinalized(data_set_id, revision_id)
            raise AdxPublishError(
                f"data set {data_set!r} ({data_set_id}), revision {revision_id}, job {job_id or '-'}: "
                f"publication failed, nothing finalized: {error}{cleanup}"
            ) from error
        return self._published(
            data_set, data_set_id, {**revision, **finalized}, content_hash, True, tuple(keys.values())
        )

    def revisions(self, data_set: str) -> list[PublishedRevision]:
        """The data set's finalized, unrevoked revisions, oldest first, with their content hash and asset names."""
        errors = _aws_errors()
        try:
            data_set_id = self.data_set_id(data_set)
            found = []
            for entry in list(_paged(self.client.list_data_set_revisions, "Revisions", DataSetId=data_set_id)):
                if not entry.get("Finalized") or entry.get("Revoked"):
                    continue
                revision = self.client.get_revision(DataSetId=data_set_id, RevisionId=entry["Id"])
                assets = _paged(
                    self.client.list_revision_assets, "Assets", DataSetId=data_set_id, RevisionId=entry["Id"]
                )
                names = tuple(sorted(asset["Name"] for asset in assets))
                content_hash = revision.get("Tags", {}).get(CONTENT_HASH_TAG, "")
                found.append(self._published(data_set, data_set_id, revision, content_hash, False, names))
        except LookupError as error:
            raise AdxPublishError(str(error)) from error
        except errors as error:
            raise AdxPublishError(f"data set {data_set!r}: could not list revisions: {error}") from error
        return sorted(found, key=lambda revision: (revision.created_at or dt.datetime.min, revision.revision_id))

    def _tagged_revisions(self, data_set_id: str, content_hash: str) -> list[dict]:
        """The data set's revisions whose tag holds ``content_hash`` (full ``get_revision`` responses)."""
        marker = content_hash_marker(content_hash)
        tagged = []
        for entry in list(_paged(self.client.list_data_set_revisions, "Revisions", DataSetId=data_set_id)):
            if marker not in (entry.get("Comment") or ""):
                continue
            revision = self.client.get_revision(DataSetId=data_set_id, RevisionId=entry["Id"])
            if revision.get("Tags", {}).get(CONTENT_HASH_TAG) == content_hash:
                tagged.append(revision)
        return tagged

    def _staging_key(self, data_set: str, content_hash: str, name: str) -> str:
        return "/".join(part for part in (self.staging_prefix, data_set, content_hash, name) if part)

    def _upload(self, data_set: str, product_files: ProductFiles, keys: dict[str, str]) -> None:
        errors = _aws_errors()
        for name, key in keys.items():
            content = product_files.files[name]
            checksum = base64.b64encode(hashlib.sha256(content).digest()).decode()
            try:
                self.s3_client.put_object(Bucket=self.staging_bucket, Key=key, Body=content, ChecksumSHA256=checksum)
            except errors as error:
                raise AdxPublishError(
                    f"data set {data_set!r}: could not stage s3://{self.staging_bucket}/{key}: {error}"
                ) from error

    def _import_assets(self, data_set_id: str, revision_id: str, keys: list[str]) -> str:
        """Run an IMPORT_ASSETS_FROM_S3 job into the revision; its id once COMPLETED, else ``_ImportFailed``."""
        job = self.client.create_job(
            Type="IMPORT_ASSETS_FROM_S3",
            Details={
                "ImportAssetsFromS3": {
                    "AssetSources": [{"Bucket": self.staging_bucket, "Key": key} for key in keys],
                    "DataSetId": data_set_id,
                    "RevisionId": revision_id,
                }
            },
        )
        job_id = job["Id"]
        try:
            self.client.start_job(JobId=job_id)
        except _aws_errors() as error:
            raise _ImportFailed(job_id, f"start_job failed: {error}") from error
        deadline = self._clock() + self.import_timeout_s
        while True:
            try:
                job = self.client.get_job(JobId=job_id)
            except _aws_errors() as error:
                raise _ImportFailed(job_id, f"get_job failed: {error}") from error
            state = job.get("State")
            if state == "COMPLETED":
                return job_id
            if state in FAILED_JOB_STATES:
                raise _ImportFailed(job_id, f"import job ended {state}: {_job_errors(job)}")
            if self._clock() >= deadline:
                cancelled = self._cancel(job_id)
                raise _ImportFailed(job_id, f"import job still {state} after {self.import_timeout_s:g}s; {cancelled}")
            self._sleep(self.poll_interval_s)

    def _cancel(self, job_id: str) -> str:
        try:
            self.client.cancel_job(JobId=job_id)
        except _aws_errors() as error:
            return f"cancel_job failed: {error}"
        return "job cancelled"

    def _delete_unfinalized(self, data_set_id: str, revision_id: str) -> str:
        try:
            self.client.delete_revision(DataSetId=data_set_id, RevisionId=revision_id)
        except _aws_errors() as error:
            return f"; the unfinalized revision could not be deleted ({error}): the next publish deletes it"
        return "; the unfinalized revision was deleted"

    def _published(
        self, data_set: str, data_set_id: str, revision: dict, content_hash: str, created: bool, names: tuple
    ) -> PublishedRevision:
        return PublishedRevision(
            data_set=data_set,
            data_set_id=data_set_id,
            revision_id=revision["Id"],
            content_hash=content_hash,
            created=created,
            asset_names=names,
            location=revision.get("Arn", ""),
            created_at=revision.get("CreatedAt"),
        )

    # -- data grants -------------------------------------------------------------------------------------------

    def list_grants(self) -> list[DataGrant]:
        """Every data grant this account sent (``list_data_grants``), expired ones flagged."""
        errors = _aws_errors()
        now = self._now()
        try:
            summaries = list(_paged(self.client.list_data_grants, "DataGrantSummaries"))
            return [
                DataGrant(
                    grant_id=summary["Id"],
                    data_set=self._data_set_name(summary["SourceDataSetId"]),
                    receiver_account=summary["ReceiverPrincipal"],
                    name=summary["Name"],
                    ends_at=summary.get("EndsAt"),
                    created_at=summary["CreatedAt"],
                    acceptance_state=summary["AcceptanceState"],
                    expired=is_expired(summary.get("EndsAt"), now),
                )
                for summary in summaries
            ]
        except errors as error:
            raise AdxGrantError(f"could not list ADX data grants: {error}") from error

    def create_grant(
        self, data_set: str, receiver_account: str, name: str, ends_at: dt.datetime | None, description: str
    ) -> DataGrant:
        """Grant ``data_set`` to ``receiver_account`` until ``ends_at`` (``create_data_grant``, scope NONE)."""
        errors = _aws_errors()
        check_grant_request(data_set, receiver_account, ends_at, self._now())
        try:
            data_set_id = self.data_set_id(data_set)
        except LookupError as error:
            raise AdxGrantError(str(error)) from error
        except errors as error:
            raise AdxGrantError(f"data set {data_set!r}: could not list owned data sets: {error}") from error
        request: dict[str, Any] = {
            "Name": name,
            "GrantDistributionScope": "NONE",
            "ReceiverPrincipal": receiver_account,
            "SourceDataSetId": data_set_id,
            "Description": description,
        }
        if ends_at is not None:
            request["EndsAt"] = ends_at
        try:
            grant = self.client.create_data_grant(**request)
        except errors as error:
            raise AdxGrantError(
                f"data set {data_set!r} ({data_set_id}): could not grant to account {receiver_account}: {error}"
            ) from error
        return DataGrant(
            grant_id=grant["Id"],
            data_set=data_set,
            receiver_account=grant["ReceiverPrincipal"],
            name=grant["Name"],
            ends_at=grant.get("EndsAt"),
            created_at=grant["CreatedAt"],
            description=grant.get("Description", ""),
            acceptance_state=grant["AcceptanceState"],
            expired=is_expired(grant.get("EndsAt"), self._now()),
        )

    def delete_grant(self, grant_id: str) -> None:
        """Delete a data grant (``delete_data_grant``): the receiver loses access."""
        try:
            self.client.delete_data_grant(DataGrantId=grant_id)
        except _aws_errors() as error:
            raise AdxGrantError(f"could not delete ADX data grant {grant_id}: {error}") from error


def _paged(operation: Callable[..., dict], items: str, **request: Any) -> Iterator[dict]:
    """Every item of a NextToken-paginated ADX listing."""
    token = None
    while True:
        page = operation(**request, **({"NextToken": token} if token else {}))
        yield from page.get(items, [])
        token = page.get("NextToken")
        if not token:
            return


def _job_errors(job: dict) -> str:
    """The job's errors, readable: code, message, resource and the S3 objects at fault."""
    described = []
    for error in job.get("Errors") or []:
        text = f"{error.get('Code')}: {error.get('Message')}"
        if error.get("ResourceId"):
            text += f" ({error.get('ResourceType', 'resource')} {error['ResourceId']})"
        sources = (error.get("Details") or {}).get("ImportAssetsFromS3JobErrorDetails") or []
        if sources:
            text += " [" + ", ".join(f"s3://{s.get('Bucket')}/{s.get('Key')}" for s in sources) + "]"
        described.append(text)
    return "; ".join(described) or "no error details"


def _aws_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)
