"""Bad input never crashes the end-of-day batch and is never silently dropped: the right check fails
with a reason naming the record, and the rows are quarantined.

The firm's last twelve trading days are built from a corrupted copy: one security's closes are
removed from the Bloomberg deliveries, another's close is delivered ten times too high on one day,
and bronze receives a trade of an unknown security and a sale of more shares than a portfolio holds.
"""

import datetime as dt
import json
import shutil
from decimal import Decimal

import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from mesh_assets.lib.trading_calendar import trading_days
from tests.conftest import SMALL_SEED
from tests.support.firm_truth import firm_truth
from tests.support.warehouse import query as warehouse_query

pytestmark = pytest.mark.integration

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
WINDOW_DAYS = 12


def checks(result) -> dict:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def append_trade(table, template: dict, **changes) -> None:
    import pyarrow as pa

    row = {**template, **changes}
    table.append(pa.Table.from_pylist([row], schema=table.schema().as_arrow()))


@pytest.fixture(scope="module")
def corrupted(small_firm, tmp_path_factory):
    from dagster import instance_for_test

    from mesh_assets.definitions import build_definitions
    from mesh_assets.lib.lakehouse.tables import TRADES

    root = tmp_path_factory.mktemp("bad_input")
    firm = root / "firm"
    shutil.copytree(small_firm, firm)
    manifest = json.loads((firm / "firm.json").read_text())
    days = [d.isoformat() for d in trading_days(dt.date.fromisoformat(manifest["start_date"]),
                                                 dt.date.fromisoformat(manifest["end_date"]))][-WINDOW_DAYS:]
    (root / "dagster_home").mkdir()
    with pytest.MonkeyPatch.context() as patch, instance_for_test(temp_dir=str(root / "dagster_home")) as inst:
        patch.setenv("MESH_ENV", "local")
        patch.setenv("MESH_DATA_DIR", str(root / "data"))
        patch.setenv("MESH_FIRM_DIR", str(firm))
        defs = build_definitions()
        assert defs.resolve_job_def("bronze_sources").execute_in_process(instance=inst, run_config=QUIET).success

        trades = defs.resources["iceberg"].table(TRADES)
        events = trades.scan().to_arrow().to_pylist()
        template = max(events, key=lambda r: r["lsn"])
        # Two different securities still held at the end, per the generator's own book.
        truth = firm_truth(manifest["scale"], SMALL_SEED, dt.date.fromisoformat(manifest["end_date"]))
        (portfolio, security), quantity = sorted(truth.holdings.items())[0]
        held = {"portfolio_id": portfolio, "security_id": security, "quantity": Decimal(str(quantity))}  # exact column
        other = next(s for (_, s), q in sorted(truth.holdings.items()) if s != security and q > 0)
        lsn = max(r["lsn"] for r in events)
        append_trade(trades, template, trade_id="T-BAD-UNKNOWN", security_id="S-99999", op="c", lsn=lsn + 1,
                     source_offset=10_000_001, trade_date=dt.date.fromisoformat(days[-3]), version=1)
        append_trade(trades, template, trade_id="T-BAD-OVERSOLD", portfolio_id=held["portfolio_id"],
                     security_id=held["security_id"], side="SELL", quantity=held["quantity"] * 1000, op="c",
                     lsn=lsn + 2, source_offset=10_000_002, trade_date=dt.date.fromisoformat(days[-2]), version=1)

        # Remove another held security's closes from every delivery of the window: no close to value it.
        for day in days:
            path = firm / "bloomberg" / "prices" / f"{day}.csv"
            lines = path.read_text().splitlines(keepends=True)
            path.write_text("".join(line for line in lines if not line.startswith(other + ",")))

        # A third security's close delivered ten times too high on one day: a robust outlier.
        spiked = next(s for (_, s), q in sorted(truth.holdings.items()) if s not in (security, other) and q > 0)
        spike_day = days[-6]
        path = firm / "bloomberg" / "prices" / f"{spike_day}.csv"
        lines = []
        for line in path.read_text().splitlines():
            fields = line.split(",")
            if fields[0] == spiked:
                fields[3] = f"{float(fields[3]) * 10:.6f}"
            lines.append(",".join(fields))
        path.write_text("\n".join(lines) + "\n")

        result = defs.resolve_job_def("eod_batch").execute_in_process(
            instance=inst, raise_on_error=False, run_config=QUIET,
            tags={ASSET_PARTITION_RANGE_START_TAG: days[0], ASSET_PARTITION_RANGE_END_TAG: days[-1]},
        )
        yield {"spiked": (spiked, spike_day), "result": result, "days": days, "held": held,
               "missing_close_security": other, "warehouse": root / "data" / "warehouse.duckdb"}


def query(world, sql: str) -> list[tuple]:
    return warehouse_query(world["warehouse"], sql)


def test_the_batch_does_not_crash_and_builds_every_table(corrupted):
    """Every asset step succeeds; only the blocking checks that found the bad rows fail their steps."""
    result = corrupted["result"]
    failed_steps = {e.step_key for e in result.all_events if e.is_step_failure}
    assert failed_steps == {"gold_daily"}  # the gold dbt step, which evaluates its blocking checks after dbt
    failed_checks = {(e.asset_key.to_user_string(), e.check_name)
                     for e in result.get_asset_check_evaluations() if not e.passed and e.blocking}
    assert failed_checks == {("gold/holdings/valuations", "every_position_valued"),
                             ("gold/performance/daily_returns", "returns_within_bounds")}
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"silver/aladdin/trades", "gold/holdings/positions", "gold/holdings/valuations",
            "gold/performance/nav_history", "gold/quality/unvalued_positions"} <= materialized
    assert query(corrupted, "select count(*) from gold.nav_history")[0][0] > 0


def test_unknown_security_is_quarantined_and_named_by_the_failing_check(corrupted):
    check = checks(corrupted["result"])["silver/aladdin/quarantined_events:no_quarantined_events"]
    assert not check.passed and check.severity.value == "ERROR"
    assert "T-BAD-UNKNOWN" in check.description and "unknown_security" in check.description
    assert [s["record_key"] for s in check.metadata["samples"].value] == ["T-BAD-UNKNOWN"]
    assert query(corrupted, "select count(*) from silver.trades where trade_id = 'T-BAD-UNKNOWN'") == [(0,)]


def test_oversold_position_and_missing_closes_fail_the_valuation_check_with_samples(corrupted):
    check = checks(corrupted["result"])["gold/holdings/valuations:every_position_valued"]
    assert not check.passed and check.severity.value == "ERROR"
    by_reason = check.metadata["unvalued_by_reason"].value
    assert by_reason.get("negative_quantity", 0) >= 1 and by_reason.get("missing_close", 0) >= 1
    held = corrupted["held"]
    negative = query(corrupted, f"""select as_of_date, quantity, reason from gold.unvalued_positions
        where unvalued_reason = 'negative_quantity' and portfolio_id = '{held['portfolio_id']}'
          and security_id = '{held['security_id']}' order by as_of_date""")
    assert negative and negative[0][0].isoformat() == corrupted["days"][-2] and negative[0][1] < 0
    assert held["portfolio_id"] in negative[0][2] and held["security_id"] in negative[0][2]
    missing = query(corrupted, f"""select count(*) from gold.unvalued_positions
        where unvalued_reason = 'missing_close' and security_id = '{corrupted['missing_close_security']}'""")
    assert missing[0][0] > 0
    # quarantined positions are not in valuations: nothing is valued at a made-up price
    assert query(corrupted, f"""select count(*) from gold.valuations
        where security_id = '{corrupted['missing_close_security']}'""") == [(0,)]


def test_the_returns_check_names_the_implausible_day(corrupted):
    check = checks(corrupted["result"])["gold/performance/daily_returns:returns_within_bounds"]
    assert not check.passed
    samples = check.metadata["outlier_samples"].value + check.metadata["uncomputable_samples"].value
    assert samples and all("portfolio_id" in s and "as_of_date" in s for s in samples)


def test_a_price_spike_is_a_robust_outlier_with_the_security_and_day(corrupted):
    check = checks(corrupted["result"])["silver/market/prices:close_outliers_mad"]
    spiked, day = corrupted["spiked"]
    assert not check.passed and check.severity.value == "WARN"
    samples = check.metadata["samples"].value
    assert {"security_id": spiked, "price_date": day} in [
        {"security_id": s["security_id"], "price_date": s["price_date"]} for s in samples]
    assert spiked in check.description
