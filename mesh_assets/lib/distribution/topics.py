"""The distribution topics: which gold figures each carries, keyed by fund (``portfolio_id``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
#: Version of the event envelope and of every topic's JSON Schema (``schemas/<topic>.v<version>.schema.json``).
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class DistributionTopic:
    """One topic: its Kafka name and the event type it carries."""

    name: str
    event_type: str

    @property
    def schema_path(self) -> Path:
        """The JSON Schema of the topic's record values (``schemas/<topic>.v<version>.schema.json``)."""
        return SCHEMA_DIR / f"{self.name}.v{SCHEMA_VERSION}.schema.json"


#: NAV, NAV index, flows and daily return per fund and day (from gold.nav_history).
NAV_INTRADAY = DistributionTopic(name="asset-management.nav.intraday", event_type="nav.intraday")
#: Returns, exposures, top holdings and turnover per fund and day (gold.daily_returns, gold.portfolio_analytics).
PERFORMANCE_METRICS = DistributionTopic(name="asset-management.performance.metrics", event_type="performance.metrics")
TOPICS = {t.name: t for t in (NAV_INTRADAY, PERFORMANCE_METRICS)}
