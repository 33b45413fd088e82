"""Compliance asks for a GIPS composite-year through the UI's API and finds its four files; a request for a year
before the composite's inception, or for a composite that does not exist, fails at once with one sentence
naming the composite and the year, and is not retried."""

import csv
import json
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.acceptance.graphql import repository

# the first test of the session also waits for the shared world (tests/acceptance/conftest.py)
pytestmark = [pytest.mark.integration, pytest.mark.acceptance, pytest.mark.timeout(1800)]

ADD_PARTITION = """mutation($key: String!, $name: String!, $repo: RepositorySelector!) {
  addDynamicPartition(partitionKey: $key, partitionsDefName: $name, repositorySelector: $repo) { __typename } }"""
FILES = ("gips_report.pdf", "gips_report.html", "gips_statistics.csv", "gips_report.json")
#: How long the run-retry daemon gets to (wrongly) retry a failed run before we conclude it did not.
RETRY_WINDOW_S = 15


def _composite(mesh) -> tuple[str, int]:
    with (mesh["firm"] / "reference" / "composites.csv").open() as handle:
        first = next(csv.DictReader(handle))
    return first["composite_id"], int(first["inception_date"][:4])


def _register(mesh, composite: str, years: range = range(0)) -> None:
    """Add the composite (and years) to the GIPS partitions, as the UI's "Add partition" does (idempotent);
    gips_composite_sensor does the same on its next tick (every 5 minutes)."""
    keys = [("gips_composites", composite)] + [("gips_years", str(year)) for year in years]
    for name, key in keys:
        result = mesh["gql"](ADD_PARTITION, key=key, name=name, repo=repository())
        assert result["addDynamicPartition"]["__typename"] in ("AddDynamicPartitionSuccess",
                                                               "DuplicateDynamicPartitionError"), result


def _launch(mesh, composite: str, year: int) -> str:
    return mesh["gql"].launch("gips_report", tags={
        "dagster/partition": f"{composite}|{year}", "dagster/partition/composite": composite,
        "dagster/partition/year": str(year)})


def _path(uri: str) -> Path:
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme in ("file", "") else pytest.fail(f"not a local file: {uri}")


def test_a_composite_year_report_has_its_four_files(mesh):
    composite, first_year = _composite(mesh)
    year = int(mesh["days"][-1][:4])
    _register(mesh, composite, range(first_year, year + 1))
    gql = mesh["gql"]
    # a year's statistics carry the years before it: compliance reports the composite's years in order
    for each in range(first_year, year + 1):
        run = gql.wait(_launch(mesh, composite, each), timeout=600)
        assert run["status"] == "SUCCESS", gql.failure_message(run["runId"])
    [report] = [m for m in gql.materializations(run["runId"]) if m["asset"] == "gips/annual_report"]
    assert report["partition"] == f"{composite}|{year}"
    written = json.loads(report["metadata"]["files"])
    assert sorted(written) == sorted(FILES)
    files = {name: _path(entry["uri"]) for name, entry in written.items()}
    assert all(path.is_file() and path.stat().st_size > 0 for path in files.values()), files
    assert all(path.parent.parts[-2:] == (composite, str(year)) for path in files.values())
    assert files["gips_report.pdf"].read_bytes().startswith(b"%PDF")
    assert composite in files["gips_report.html"].read_text()
    document = json.loads(files["gips_report.json"].read_text())
    assert composite in json.dumps(document) and str(year) in json.dumps(document)
    assert next(csv.reader(files["gips_statistics.csv"].read_text().splitlines()))  # a header row


@pytest.mark.parametrize("request_kind", ["year before inception", "unknown composite"])
def test_a_bad_request_fails_fast_with_one_sentence_and_is_not_retried(mesh, request_kind):
    gql = mesh["gql"]
    composite, inception_year = _composite(mesh)
    if request_kind == "year before inception":
        year = inception_year - 1
        _register(mesh, composite)
    else:
        composite, year = "COMP-99", inception_year
    try:
        run_id = _launch(mesh, composite, year)
    except AssertionError as refused:  # refused at launch: the refusal itself must name composite and year
        message = str(refused)
        assert composite in message and str(year) in message, message
        return
    run = gql.wait(run_id, timeout=300)
    assert run["status"] == "FAILURE"
    message = gql.failure_message(run_id)
    lines = [line for line in message.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one sentence, got:\n{message}"
    assert composite in lines[0] and str(year) in lines[0], lines[0]
    for internal in ("Traceback", "CheckError", "ArrowNotImplementedError", "is not a valid range"):
        assert internal not in message, message
    assert not [m for m in gql.materializations(run_id) if m["asset"] == "gips/annual_report"]
    time.sleep(RETRY_WINDOW_S)  # the retry daemon reacts within seconds of a failure
    assert gql.retries_of(run_id) == [], "a user's mistake was retried"
