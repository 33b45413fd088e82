"""What `make demo` prints for each asset it materialized."""

from jobs.demo import DemoReport, materialized_line


def test_partitioned_assets_count_partitions_and_unpartitioned_ones_count_builds():
    report = DemoReport(materializations={"gold/nav": 60, "silver/trades": 2, "gips/report": 1},
                        partitions={"gold/nav": {f"2026-09-{d:02d}" for d in range(1, 31)}})
    assert materialized_line(report, "gold/nav") == "materialized gold/nav (30 partitions)"
    assert materialized_line(report, "silver/trades") == "materialized silver/trades (2 times)"
    assert materialized_line(report, "gips/report") == "materialized gips/report"
    report.partitions["gips/report"] = {"C1|2026"}
    assert materialized_line(report, "gips/report") == "materialized gips/report (1 partition)"
