"""The CDC benchmarks' synthetic input: valid Aladdin trade CDC events (Debezium envelopes like the firm's,
~400-byte values) written as a capture file that :func:`mesh_dev.local.cdc_producer.produce_capture` sends."""

from __future__ import annotations

import random
import time
import zlib
from pathlib import Path

import orjson

TOPIC = "aladdin.trades"


def synthesize_capture(path: Path, events: int, partitions: int, seed: int = 7) -> dict:
    """Write ``events`` valid trade CDC events as a capture file; return counts and the mean value size."""
    rng = random.Random(seed)
    offsets = [0] * partitions
    now_ms = int(time.time() * 1000) - events  # recent: one event per millisecond up to now
    lsn = 2_400_000_000
    value_bytes = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for i in range(events):
            portfolio = f"P-{rng.randrange(1000):04d}"
            trade_id = f"T-{i + 1:08d}"
            partition = zlib.crc32(portfolio.encode()) % partitions
            ts = now_ms + i
            lsn += rng.randrange(8, 400)
            trade_date = f"2026-{rng.randrange(1, 11):02d}-{rng.randrange(1, 28):02d}"
            image = {
                "currency": rng.choice(("USD", "USD", "USD", "EUR", "GBP")),
                "portfolio_id": portfolio,
                "price": round(rng.uniform(5, 900), 6),
                "quantity": rng.randrange(1, 250_000),
                "security_id": f"S-{rng.randrange(3000):05d}",
                "settle_date": trade_date,
                "side": rng.choice(("BUY", "SELL")),
                "trade_date": trade_date,
                "trade_id": trade_id,
                "version": 1,
            }
            envelope = {
                "after": image,
                "before": None,
                "op": "c",
                "source": {"connector": "aladdin", "db": "aladdin", "lsn": lsn, "table": "trades",
                           "ts_ms": ts - rng.randrange(1, 250), "txId": 88_000 + i},
                "ts_ms": ts,
            }  # fmt: skip
            value = orjson.dumps(envelope, option=orjson.OPT_SORT_KEYS).decode()
            value_bytes += len(value)
            key = orjson.dumps({"portfolio_id": portfolio, "trade_id": trade_id}, option=orjson.OPT_SORT_KEYS)
            line = {
                "key": key.decode(),
                "offset": offsets[partition],
                "partition": partition,
                "timestamp_ms": ts,
                "topic": TOPIC,
                "value": value,
            }  # fmt: skip
            offsets[partition] += 1
            handle.write(orjson.dumps(line, option=orjson.OPT_SORT_KEYS) + b"\n")
    return {"events": events, "per_partition": offsets, "mean_value_bytes": round(value_bytes / max(events, 1), 1)}
