"""Alerting end to end: a real HTTP webhook on 127.0.0.1, real Dagster runs and materializations, the real sensors.

The webhook records every request and answers from a script of status codes (then 200). Time is frozen: Dagster's
clock with its test helper ``freeze_time`` (materialization timestamps), the sensor's ``utc_now`` with it (ticks).
The webhook URL carries a token in its path, as Slack's do: it must never appear in a log line or an error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import unittest.mock
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    AssetKey,
    DailyPartitionsDefinition,
    Definitions,
    FreshnessPolicy,
    SensorResult,
    asset,
    build_run_status_sensor_context,
    build_sensor_context,
    define_asset_job,
    materialize,
)
from dagster._core.test_utils import freeze_time

import sensors.freshness_alert
from resources.alerts import AlertDeliveryError, AlertWebhookResource, redact_url
from sensors.freshness_alert import freshness_alert_sensor
from sensors.freshness_assessment import freshness_assessments
from sensors.run_failure_alert import run_failure_alert_sensor

pytestmark = pytest.mark.integration

TOKEN = "T0MESH/B0ALERTS/xoxb-s3cr3t-t0ken-4242"
NEW_YORK = ZoneInfo("America/New_York")


@dataclass
class Webhook:
    """A local webhook: the requests it received, and the statuses it will answer with (then 200)."""

    server: ThreadingHTTPServer
    statuses: list[int] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The webhook URL, token in the path."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{TOKEN}"

    def payloads(self) -> list[dict]:
        """JSON bodies received, in order."""
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A recording HTTP server in a thread; a refusal echoes the request path back, as some servers do."""
    state = Webhook(server=None)  # type: ignore[arg-type]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers),
                                   "body": body.decode()})
            status = state.statuses.pop(0) if state.statuses else 200
            reply = b"ok" if status < 400 else f"refused POST {self.path}".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:  # quiet: stderr is not under test
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def fast(url: str | None, attempts: int = 4) -> AlertWebhookResource:
    """The resource with a short backoff, so retries take milliseconds."""
    return AlertWebhookResource(url=url, timeout_seconds=5, max_attempts=attempts, backoff_seconds=0.01)


def sensor_log_lines(capfd: pytest.CaptureFixture[str], start: str) -> list[str]:
    """Lines of the sensors' ``context.log`` (Dagster's console logger, which writes to stderr) starting with
    ``start``, after asserting the token appears nowhere in what was written."""
    err = capfd.readouterr().err
    assert TOKEN not in err and "s3cr3t" not in err and "/hooks/" not in err
    return [line.split(" - dagster - ", 1)[-1].split(" - ", 1)[-1] for line in err.splitlines()
            if start in line]


def assert_no_secret(caplog: pytest.LogCaptureFixture, *texts: str) -> None:
    """Neither the logs nor ``texts`` contain the webhook's token (or any part of its path)."""
    for text in (caplog.text, *texts):
        assert TOKEN not in text and "s3cr3t" not in text and "/hooks/" not in text, text


# --------------------------------------------------------------------------------------------------- the resource


def test_post_retries_5xx_with_backoff_then_delivers(webhook: Webhook, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    webhook.statuses = [500, 500]
    payload = {"kind": "test", "text": "portfolio P-0042 NAV missing"}

    assert fast(webhook.url).post(payload) == 200

    assert len(webhook.requests) == 3
    assert all(r["path"] == f"/hooks/{TOKEN}" for r in webhook.requests)
    assert all(r["headers"]["Content-Type"] == "application/json" for r in webhook.requests)
    assert webhook.payloads() == [payload] * 3
    host = f"http://127.0.0.1:{webhook.server.server_address[1]}/…"
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2 and all(host in m and "HTTP 500" in m for m in retries), retries
    assert_no_secret(caplog)


def test_post_does_not_retry_a_4xx_and_names_only_the_host(webhook: Webhook, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    webhook.statuses = [400]

    with pytest.raises(AlertDeliveryError) as error:
        fast(webhook.url).post({"kind": "test"})

    assert len(webhook.requests) == 1
    message = str(error.value)
    assert f"127.0.0.1:{webhook.server.server_address[1]}" in message and "HTTP 400" in message
    assert "refused POST" in message  # the server's answer is kept, its echo of the path is scrubbed
    assert_no_secret(caplog, message, repr(error.value))


def test_unreachable_webhook_is_retried_then_fails_naming_the_host(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hooks/{TOKEN}"

    with pytest.raises(AlertDeliveryError, match=rf"127\.0\.0\.1:{port}/… did not accept the alert after 3") as error:
        fast(url, attempts=3).post({"kind": "test"})

    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 2
    assert_no_secret(caplog, str(error.value))
    assert redact_url(url) == f"http://127.0.0.1:{port}/…"


def test_without_a_url_alerts_are_only_logged(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    assert AlertWebhookResource(url=None).post({"kind": "run_failure", "job": "eod_batch"}) is None
    assert AlertWebhookResource(url="").destination() == "log only"
    assert '"job":"eod_batch"' in caplog.text and "no webhook configured" in caplog.text


# --------------------------------------------------------------------------------------------------- run failures


@asset(key=["gold", "performance", "nav_for_alerting"], partitions_def=DailyPartitionsDefinition("2026-03-01"),
       group_name="gold")
def failing_nav() -> None:
    """A NAV step that finds a portfolio without a NAV."""
    raise ValueError("NAV missing for portfolio P-0042 on 2026-03-09: no close for AAPL")


def test_run_failure_alert_names_job_run_step_error_assets_and_partition(
    instance, webhook: Webhook, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
):
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("MESH_DAGSTER_UI_URL", "http://dagster.internal:3000/")
    webhook.statuses = [503]  # the alert survives a webhook hiccup
    defs = Definitions(assets=[failing_nav], jobs=[define_asset_job("nav_job", selection=[failing_nav])],
                       sensors=[run_failure_alert_sensor], resources={"alerts": fast(webhook.url)})
    result = defs.resolve_job_def("nav_job").execute_in_process(
        instance=instance, partition_key="2026-03-09", raise_on_error=False
    )
    assert not result.success
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(), resources={"alerts": fast(webhook.url)},
    )

    run_failure_alert_sensor(context)

    assert len(webhook.requests) == 2  # the 503, then the delivery
    payload = webhook.payloads()[-1]
    assert payload["kind"] == "run_failure" and payload["job"] == "nav_job"
    assert payload["run_id"] == result.run_id
    [step] = payload["failed_steps"]
    assert step["step"] == "gold__performance__nav_for_alerting"
    assert "NAV missing for portfolio P-0042" in step["error"]
    assert step["assets"] == ["gold/performance/nav_for_alerting"]
    assert payload["asset_keys"] == ["gold/performance/nav_for_alerting"]
    assert payload["failing_assets"] == ["gold/performance/nav_for_alerting"]
    assert payload["partition_tags"] == {"dagster/partition": "2026-03-09"}
    assert payload["dagster_url"] == f"http://dagster.internal:3000/runs/{result.run_id}"
    assert "P-0042" in payload["reason"] and "P-0042" in payload["text"]
    [line] = sensor_log_lines(capfd, "run failure alert to http://127.0.0.1:")
    assert "gold/performance/nav_for_alerting" in line and "P-0042" in line and result.run_id in line
    assert_no_secret(caplog)


def test_run_failure_alert_truncates_long_errors(instance, webhook: Webhook):
    @asset(key=["gold", "performance", "verbose_nav"])
    def verbose_nav() -> None:
        raise RuntimeError("portfolio P-0007 " + "x" * 10_000)

    result = materialize([verbose_nav], instance=instance, raise_on_error=False)
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(), resources={"alerts": fast(webhook.url)},
    )
    run_failure_alert_sensor(context)
    [payload] = webhook.payloads()
    error = payload["failed_steps"][0]["error"]
    assert error.startswith("RuntimeError: portfolio P-0007") and len(error) == 2000 and error.endswith("…")


# --------------------------------------------------------------------------------------------------- freshness

NAV_POLICY = FreshnessPolicy.cron(
    deadline_cron="0 17 * * 2-6", lower_bound_delta=timedelta(hours=24), timezone="America/New_York"
)


@asset(key=["gold", "performance", "nav_daily"], freshness_policy=NAV_POLICY, owners=["team:performance"],
       group_name="gold")
def nav_daily() -> int:
    """NAV, due by 17:00 New York the next weekday."""
    return 1


@asset(key=["bronze", "bloomberg", "prices_feed"], freshness_policy=FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26)), group_name="bronze")
def prices_feed() -> int:
    """Prices, expected at least every 26 hours."""
    return 1


@asset(key=["gold", "performance", "never_built"], freshness_policy=FreshnessPolicy.time_window(
    fail_window=timedelta(hours=1)), group_name="gold")
def never_built() -> int:
    """Never materialized: its freshness is unknown, so it is not alerted on."""
    return 1


@asset(key=["silver", "reference", "no_policy"], group_name="silver")
def no_policy() -> int:
    """No freshness policy: ignored."""
    return 1


@contextlib.contextmanager
def tick_at(at: datetime):
    """Dagster's clock and the freshness sensor's clock both at ``at``."""
    with freeze_time(at), unittest.mock.patch.object(sensors.freshness_alert, "utc_now", return_value=at):
        yield


def ny(day: int, hour: int, minute: int) -> datetime:
    """A moment of March 2026 in New York (EDT from March 8)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=NEW_YORK)


def test_freshness_alerts_once_per_violation_and_on_recovery(
    instance, webhook: Webhook, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
):
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("MESH_DAGSTER_UI_URL", "https://dagster.example.com")
    alerts = fast(webhook.url)
    defs = Definitions(assets=[nav_daily, prices_feed, never_built, no_policy], sensors=[freshness_alert_sensor],
                       resources={"alerts": alerts})

    def tick(at: datetime, cursor: str | None) -> SensorResult:
        with tick_at(at):
            context = build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                           resources={"alerts": alerts})
            result = freshness_alert_sensor(context)
        assert isinstance(result, SensorResult)
        return result

    with freeze_time(ny(9, 18, 10)):  # Monday's EOD batch
        assert materialize([nav_daily, prices_feed], instance=instance).success

    # Tuesday 17:05: NAV met Tuesday's 17:00 deadline, prices are 22 h 55 min old: nothing to say.
    tuesday = tick(ny(10, 17, 5), None)
    assert webhook.requests == [] and json.loads(tuesday.cursor) == {}

    # Wednesday 17:05: Tuesday's batch never ran. Both assets are late: one alert each.
    webhook.statuses = [500]  # one retry on the way
    wednesday = tick(ny(11, 17, 5), tuesday.cursor)
    violations = {p["asset_key"]: p for p in webhook.payloads() if p["kind"] == "freshness_violation"}
    assert len(webhook.requests) == 3
    assert set(violations) == {"gold/performance/nav_daily", "bronze/bloomberg/prices_feed"}
    nav = violations["gold/performance/nav_daily"]
    assert nav["policy"]["type"] == "cron" and nav["policy"]["deadline_cron"] == "0 17 * * 2-6"
    assert nav["policy"]["timezone"] == "America/New_York" and nav["policy"]["lower_bound_delta_seconds"] == 86_400
    assert nav["last_materialization"] == ny(9, 18, 10).astimezone(UTC).isoformat()
    assert nav["overdue_since"] == ny(11, 17, 0).astimezone(UTC).isoformat()  # the deadline it missed
    assert nav["late_by_seconds"] == 300 and nav["late_by"] == "05 min"
    assert nav["owners"] == ["team:performance"]
    assert nav["dagster_url"] == "https://dagster.example.com/assets/gold/performance/nav_daily"
    assert "gold/performance/nav_daily is late by 05 min" in nav["text"]
    prices = violations["bronze/bloomberg/prices_feed"]
    assert prices["policy"] == {"type": "time_window", "fail_window_seconds": 93_600, "warn_window_seconds": None,
                                "description": "materialized at least every 1 d 2 h 00 min"}
    assert prices["overdue_since"] == ny(10, 20, 10).astimezone(UTC).isoformat()
    assert prices["late_by_seconds"] == 20 * 3600 + 55 * 60
    assert set(json.loads(wednesday.cursor)) == set(violations)
    lines = sensor_log_lines(capfd, "freshness violation alert to http://127.0.0.1:")
    assert len(lines) == 2 and any("gold/performance/nav_daily is late by 05 min" in line for line in lines), lines

    # A minute later: still late, already alerted: silence.
    later = tick(ny(11, 17, 6), wednesday.cursor)
    assert len(webhook.requests) == 3 and later.cursor == wednesday.cursor

    # The late batch materializes NAV (not prices): NAV recovers, prices stay alerted without a repeat.
    with freeze_time(ny(11, 18, 20)):
        assert materialize([nav_daily], instance=instance).success
    recovered = tick(ny(11, 18, 21), later.cursor)
    assert len(webhook.requests) == 4
    recovery = webhook.payloads()[-1]
    assert recovery["kind"] == "freshness_recovered" and recovery["asset_key"] == "gold/performance/nav_daily"
    assert recovery["last_materialization"] == ny(11, 18, 20).astimezone(UTC).isoformat()
    assert recovery["violated_since"] == nav["overdue_since"]
    assert set(json.loads(recovered.cursor)) == {"bronze/bloomberg/prices_feed"}
    [line] = sensor_log_lines(capfd, "freshness recovered alert to http://127.0.0.1:")
    assert "gold/performance/nav_daily is fresh again" in line

    # NAV late again on Friday: a new violation is a new alert.
    tick(ny(13, 17, 1), recovered.cursor)
    assert [p["asset_key"] for p in webhook.payloads()[4:]] == ["gold/performance/nav_daily"]
    assert_no_secret(caplog)


def test_freshness_alert_not_delivered_fails_the_tick_and_is_retried(
    instance, webhook: Webhook, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    alerts = fast(webhook.url, attempts=2)
    defs = Definitions(assets=[prices_feed], sensors=[freshness_alert_sensor], resources={"alerts": alerts})
    with freeze_time(ny(9, 18, 10)):
        materialize([prices_feed], instance=instance)

    webhook.statuses = [502, 502]
    with tick_at(ny(11, 9, 0)), pytest.raises(AlertDeliveryError, match="bronze/bloomberg/prices_feed") as error:
        freshness_alert_sensor(build_sensor_context(instance=instance, definitions=defs, resources={"alerts": alerts}))
    assert_no_secret(caplog, str(error.value))

    with tick_at(ny(11, 9, 1)):  # the cursor did not record it: the next tick delivers it
        result = freshness_alert_sensor(build_sensor_context(instance=instance, definitions=defs,
                                                             resources={"alerts": alerts}))
    assert [p["kind"] for p in webhook.payloads()] == ["freshness_violation"] * 3
    assert set(json.loads(result.cursor)) == {"bronze/bloomberg/prices_feed"}


def test_the_code_locations_nav_policy_is_assessed(instance):
    from mesh_assets.definitions import build_definitions

    nodes = build_definitions().resolve_asset_graph().asset_nodes
    [nav] = [a for a in freshness_assessments(instance, nodes, datetime.now(UTC))
             if a.asset_key == AssetKey(["gold", "performance", "nav_history"])]
    assert nav.verdict == "unknown"  # never materialized on a fresh instance: no alert
