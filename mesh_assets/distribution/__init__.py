"""Distribution over Kafka: gold NAV and performance figures published as events after the end-of-day batch.

``assets.py`` is the Dagster side (the job: ``jobs/distribution.py``). The pure side (topics, the event envelope,
the ledger, the embedded outbox, each topic's JSON Schema) is ``mesh_assets/lib/distribution/``;
docs/distribution.md describes the contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing a pure module of this package must not import Dagster
    from dagster import Definitions


def defs() -> Definitions:
    """The distribution assets and their publication checks."""
    from mesh_assets.distribution import assets

    return assets.defs()
