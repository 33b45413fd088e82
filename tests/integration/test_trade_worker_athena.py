"""The worker's Athena reads (``trade_worker/athena.py``, pyathena) against moto's Athena with predefined results:
the reference book loads from them, named and typed as the DuckDB path gives them."""

from __future__ import annotations

import datetime as dt

import pytest

from trade_worker.athena import AthenaWarehouse
from trade_worker.reference_book import Close
from trade_worker.reference_source import load_reference

pytestmark = pytest.mark.integration

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def moto_athena(monkeypatch):
    """A moto server on 127.0.0.1 and fake credentials in the environment."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _result(columns: list[tuple[str, str]], rows: list[list[str | None]]) -> dict:
    """One Athena result as moto serves it: the header row, then the rows (``None``: a null); every
    ``ColumnInfo`` field Athena sends."""
    header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
    data = [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows]
    info = [{"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name, "Type": kind,
             "Precision": 38 if kind.startswith("decimal") else 0, "Scale": 6 if kind.startswith("decimal") else 0,
             "Nullable": "UNKNOWN", "CaseSensitive": kind == "varchar"} for name, kind in columns]
    return {"rows": [header, *data], "column_info": info}


def test_the_reference_book_loads_from_athena_named_and_typed(moto_athena):
    import requests

    as_of = "2026-11-25"
    version = _result([("positions_as_of", "date"), ("nav_as_of", "date"), ("prices_as_of", "date")],
                      [[as_of, as_of, as_of]])
    results = [  # in the order load_reference asks: version, closes, positions, cost basis, NAVs
        version,
        _result([("security_id", "varchar"), ("close_date", "date"), ("close_price", "double")],
                [["S-1", as_of, "100.5"], ["S-2", "2026-11-24", "50"]]),
        _result([("portfolio_id", "varchar"), ("security_id", "varchar"), ("quantity", "double"),
                 ("as_of_date", "date")], [["P-1", "S-1", "500", as_of]]),
        _result([("portfolio_id", "varchar"), ("security_id", "varchar"), ("cost_basis", "decimal(38,6)")],
                [["P-1", "S-1", "49000.250000"]]),
        _result([("portfolio_id", "varchar"), ("nav", "double")], [["P-1", "1000000"], ["P-2", "250000.5"]]),
    ]
    requests.post(f"{moto_athena}/moto-api/static/athena/query-results", timeout=10,
                  json={"account_id": ACCOUNT, "region": REGION, "results": results}).raise_for_status()

    snapshot = load_reference(AthenaWarehouse("primary", REGION, moto_athena))

    assert snapshot.version == f"positions_as_of={as_of};nav_as_of={as_of};prices_as_of={as_of}"
    assert snapshot.closes == {"S-1": Close(100.5, dt.date(2026, 11, 25)), "S-2": Close(50.0, dt.date(2026, 11, 24))}
    assert snapshot.positions == {("P-1", "S-1"): (500.0, 49000.25)}
    assert snapshot.as_of == dt.date(2026, 11, 25)
    assert snapshot.navs == {"P-1": 1_000_000.0, "P-2": 250_000.5}
