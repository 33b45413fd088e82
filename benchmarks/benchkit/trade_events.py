"""The trade path benchmark's world: the warehouse the worker warms its reference book from (1,000 portfolios,
3,000 securities) and the trades a producer sends at a fixed rate (Debezium creates keyed by portfolio, ~1% priced
more than 2% off the close)."""

from __future__ import annotations

import datetime as dt
import random
import time
import zlib
from pathlib import Path

PORTFOLIOS = 1_000
SECURITIES = 3_000
PARTITIONS = 6


def _close(security: int) -> float:
    return round(10 + (security * 7919 % 89_000) / 100, 4)


def build_warehouse(path: Path, as_of: dt.date) -> None:
    """The end-of-day relations the worker reads, with one close per security and a book per portfolio."""
    import duckdb

    rng = random.Random(11)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema silver; create schema gold")
        con.execute("create table silver.prices (security_id varchar, price_date date, px_last double)")
        con.executemany("insert into silver.prices values (?, ?, ?)",
                        [(f"S-{s:05d}", as_of, _close(s)) for s in range(SECURITIES)])
        con.execute("create table silver.trades (portfolio_id varchar, security_id varchar, trade_date date, "
                    "signed_quantity double, price double)")
        con.execute("create table gold.positions (as_of_date date, portfolio_id varchar, security_id varchar, "
                    "quantity double, is_cash boolean)")
        positions, trades = [], []
        for p in range(PORTFOLIOS):
            for s in rng.sample(range(SECURITIES), 20):
                quantity = float(rng.randrange(100, 5_000))
                positions.append((as_of, f"P-{p:04d}", f"S-{s:05d}", quantity, False))
                trades.append((f"P-{p:04d}", f"S-{s:05d}", as_of, quantity, _close(s)))
        con.executemany("insert into gold.positions values (?, ?, ?, ?, ?)", positions)
        con.executemany("insert into silver.trades values (?, ?, ?, ?, ?)", trades)
        con.execute("create table gold.nav_history (portfolio_id varchar, as_of_date date, nav double)")
        con.executemany("insert into gold.nav_history values (?, ?, ?)",
                        [(f"P-{p:04d}", as_of, 50_000_000.0) for p in range(PORTFOLIOS)])


def trade_event(i: int, rng: random.Random, trade_date: str, now_ms: int) -> tuple[str, bytes, bytes]:
    """(portfolio, key, value) of trade ``i``: a Debezium create priced near the close (1%: > 2% off)."""
    import orjson

    portfolio = f"P-{rng.randrange(PORTFOLIOS):04d}"
    security = rng.randrange(SECURITIES)
    off = rng.uniform(0.025, 0.05) if rng.random() < 0.01 else rng.uniform(-0.01, 0.01)
    image = {"currency": "USD", "portfolio_id": portfolio, "price": round(_close(security) * (1 + off), 6),
             "quantity": float(rng.randrange(1, 500)), "security_id": f"S-{security:05d}", "settle_date": trade_date,
             "side": rng.choice(("BUY", "SELL")), "trade_date": trade_date, "trade_id": f"BT-{i:09d}", "version": 1}
    envelope = {"after": image, "before": None, "op": "c",
                "source": {"connector": "aladdin", "db": "aladdin", "lsn": 10_000 + i, "table": "trades",
                           "ts_ms": now_ms, "txId": i}, "ts_ms": now_ms}
    key = orjson.dumps({"portfolio_id": portfolio, "trade_id": image["trade_id"]})
    return portfolio, key, orjson.dumps(envelope)


def produce(bootstrap: str, topic: str, rate: float | None, count: int, first: int, trade_date: str) -> dict:
    """Send ``count`` trades from index ``first``, paced at ``rate``/s (None: as fast as possible)."""
    from resources.kafka_client import new_producer

    producer = new_producer(bootstrap, acks="all", enable_idempotence=True, linger_ms=0,
                             metrics_enabled=False)
    rng = random.Random(first)
    start = time.perf_counter()
    for n in range(count):
        if rate:
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0.0005:
                time.sleep(delay)
        now_ms = int(time.time() * 1000)
        portfolio, key, value = trade_event(first + n, rng, trade_date, now_ms)
        producer.send(topic, key=key, value=value, partition=zlib.crc32(portfolio.encode()) % PARTITIONS,
                      timestamp_ms=now_ms)
    producer.flush()
    elapsed = time.perf_counter() - start
    producer.close()
    return {"sent": count, "seconds": round(elapsed, 3), "achieved_rate": round(count / elapsed, 1)}



def produce_entry(args: tuple, out) -> None:
    """:func:`produce` in a child process: its figures go to the queue ``out``."""
    out.put(produce(*args))
