"""What an exchange is: revisions published to data sets, data grants to receiving accounts, and their errors.

Both backends (``LocalExchange``: folders and SQLite; ``AwsExchange``: AWS Data Exchange) implement
``Exchange`` and return these records, so the assets never know which one they talk to.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from resources.adx_exchange.product_files import ProductFiles

#: Revision tag (ADX) and ``revision.json`` key (local) holding the SHA-256 of the published content.
CONTENT_HASH_TAG = "mesh:content-hash"

_AWS_ACCOUNT_ID = re.compile(r"^\d{12}$")


class AdxPublishError(RuntimeError):
    """A revision could not be published; nothing was finalized and a retry starts clean."""


class AdxGrantError(RuntimeError):
    """A data grant could not be created, listed or deleted."""


@dataclass(frozen=True)
class PublishedRevision:
    """A finalized revision of a data set; ``created`` is False when identical content was already published."""

    data_set: str
    data_set_id: str
    revision_id: str
    content_hash: str
    created: bool
    asset_names: tuple[str, ...]
    location: str
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class DataGrant:
    """A data grant of one data set to one receiving AWS account, ending (ADX ``EndsAt``) at ``ends_at``."""

    grant_id: str
    data_set: str
    receiver_account: str
    name: str
    ends_at: dt.datetime | None
    created_at: dt.datetime
    description: str = ""
    acceptance_state: str = "PENDING_RECEIVER_ACCEPTANCE"
    expired: bool = False


@runtime_checkable
class Exchange(Protocol):
    """The operations the ADX assets and the entitlement reconciliation need from an exchange."""

    def publish(self, data_set: str, product_files: ProductFiles, comment: str) -> PublishedRevision:
        """Publish the product files as a finalized revision, or return the one already holding this content."""
        ...

    def revisions(self, data_set: str) -> list[PublishedRevision]:
        """The data set's finalized revisions, oldest first."""
        ...

    def list_grants(self) -> list[DataGrant]:
        """Every data grant this account sent, expired ones flagged."""
        ...

    def create_grant(
        self, data_set: str, receiver_account: str, name: str, ends_at: dt.datetime | None, description: str
    ) -> DataGrant:
        """Grant ``data_set`` to ``receiver_account`` until ``ends_at`` (the contract's end)."""
        ...

    def delete_grant(self, grant_id: str) -> None:
        """Delete a data grant (the receiver loses access)."""
        ...


def check_grant_request(data_set: str, receiver_account: str, ends_at: dt.datetime | None, now: dt.datetime) -> None:
    """Refuse a grant to something that is not an AWS account id, or one that would already have ended."""
    if not _AWS_ACCOUNT_ID.match(receiver_account):
        raise AdxGrantError(f"data set {data_set!r}: receiver {receiver_account!r} is not a 12-digit AWS account id")
    if ends_at is not None:
        if ends_at.tzinfo is None:
            raise AdxGrantError(f"data set {data_set!r}, receiver {receiver_account}: ends_at must be timezone-aware")
        if ends_at <= now:
            raise AdxGrantError(
                f"data set {data_set!r}, receiver {receiver_account}: ends_at {ends_at.isoformat()} has already passed"
            )


def is_expired(ends_at: dt.datetime | None, now: dt.datetime) -> bool:
    """True once ``ends_at`` has passed: ADX stops the receiver's access at ``EndsAt``."""
    return ends_at is not None and ends_at <= now
