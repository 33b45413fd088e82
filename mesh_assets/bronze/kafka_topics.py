"""Aladdin's CDC topics as source assets: the start of the lineage graph for bronze and the trade stream.

Kafka (MSK in aws, the local broker in development) is written by Aladdin's Debezium-style connector, not
by this code location, so the topics are declared, never materialized.
"""

from dagster import AssetKey, AssetSpec, Definitions

from mesh_assets.lib.ownership import DATA_PLATFORM

TOPIC_KEYS = {
    "aladdin.trades": AssetKey(["kafka", "aladdin_trades"]),
    "aladdin.cash_flows": AssetKey(["kafka", "aladdin_cash_flows"]),
}

TOPIC_SPECS = [
    AssetSpec(
        key, group_name="sources", owners=[DATA_PLATFORM], kinds={"kafka"},
        description=f"Kafka topic {topic}: Aladdin's {topic.split('.')[1].replace('_', ' ')} CDC (Debezium envelopes, "
                    "keyed by portfolio, several partitions). Written by Aladdin's connector; read by the bronze CDC "
                    "micro-batches" + (" and the trade-stream worker." if topic == "aladdin.trades" else "."),
    )
    for topic, key in TOPIC_KEYS.items()
]


def defs() -> Definitions:
    """The CDC topics as declared source assets."""
    return Definitions(assets=TOPIC_SPECS)
