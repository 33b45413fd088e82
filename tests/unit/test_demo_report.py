"""What `make demo` prints for each asset it materialized."""

from mesh_dev.demo import DemoReport, materialized_line


def test_partitioned_assets_count_partitions_and_unpartitioned_ones_count_builds():
    report = DemoReport(materializations={"gold/nav": 60, "silver/trades": 2, "gips/report": 1},
                        partitions={"gold/nav": {f"2026-09-{d:02d}" for d in range(1, 31)}})
    assert materialized_line(report, "gold/nav") == "materialized gold/nav (30 partitions)"
    assert materialized_line(report, "silver/trades") == "materialized silver/trades (2 times)"
    assert materialized_line(report, "gips/report") == "materialized gips/report"
    report.partitions["gips/report"] = {"C1|2026"}
    assert materialized_line(report, "gips/report") == "materialized gips/report (1 partition)"


def test_library_output_goes_to_the_log_not_the_terminal(tmp_path, capsys):
    import sys

    from mesh_dev.demo import library_output

    log = tmp_path / "logs" / "demo.log"
    with library_output(log):
        sys.stdout.write("1 of 77 START sql table model silver.accounts\n")  # as dagster-dbt re-emits dbt's lines
    print("> eod_batch")
    assert capsys.readouterr().out == "> eod_batch\n"
    assert "silver.accounts" in log.read_text()
