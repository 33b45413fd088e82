"""What the acceptance suite says to the webserver: plain GraphQL over HTTP, as the UI and scripts send it."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

LOCATION = "investment_data_mesh"  # workspace.yaml's location_name
REPOSITORY = "__repository__"  # a Definitions object's repository
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


class GraphQL:
    """A webserver's ``/graphql`` endpoint."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, document: str, **variables: Any) -> dict:
        """Run ``document``; fail on GraphQL errors; return ``data``."""
        body = json.dumps({"query": document, "variables": variables}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.load(response)
        assert not payload.get("errors"), payload["errors"]
        return payload["data"]

    # -- runs -------------------------------------------------------------------------------------------

    def launch(self, job: str, tags: dict[str, str] | None = None, run_config: dict | None = None) -> str:
        """``launchRun`` of ``job`` (queued: the daemon dequeues it); return the run id."""
        data = self(LAUNCH, params={
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job},
            "runConfigData": run_config or {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
        })["launchRun"]
        assert data["__typename"] == "LaunchRunSuccess", data
        return data["run"]["runId"]

    def run(self, run_id: str) -> dict:
        """The run's id, job, status, tags (as a dict), start and end times."""
        data = self(RUN, runId=run_id)["runOrError"]
        assert data["__typename"] == "Run", data
        return {**data, "tags": {t["key"]: t["value"] for t in data["tags"]}}

    def runs(self, job: str | None = None, tags: dict[str, str] | None = None) -> list[dict]:
        """Runs (newest first), of ``job`` and with ``tags`` when given."""
        run_filter: dict[str, Any] = {}
        if job:
            run_filter["pipelineName"] = job
        if tags:
            run_filter["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        results = self(RUNS, filter=run_filter)["runsOrError"]["results"]
        return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in results]

    def wait(self, run_id: str, timeout: float = 300.0) -> dict:
        """The run once it finished (SUCCESS, FAILURE or CANCELED)."""
        return wait_for(lambda: (lambda r: r if r["status"] in FINISHED else None)(self.run(run_id)), timeout,
                        f"run {run_id} to finish")

    def events(self, run_id: str) -> list[dict]:
        """Every event of the run, in order (``logsForRun``, paged)."""
        events: list[dict] = []
        cursor = None
        while True:
            page = self(LOGS, runId=run_id, afterCursor=cursor)["logsForRun"]
            assert page["__typename"] == "EventConnection", page
            events += page["events"]
            if not page["hasMore"]:
                return events
            cursor = page["cursor"]

    def failure_message(self, run_id: str) -> str:
        """The message a person reads for a failed run: its step failures' errors, else the run failure."""
        events = self.events(run_id)
        steps = [e["error"]["message"].strip() for e in events
                 if e["__typename"] == "ExecutionStepFailureEvent" and e.get("error")]
        if steps:
            return "\n".join(steps)
        return "\n".join(e["message"] for e in events if e["__typename"] == "RunFailureEvent")

    def materializations(self, run_id: str) -> list[dict]:
        """The run's materializations: asset key (``a/b/c``), partition and metadata (label -> value)."""
        found = []
        for event in self.events(run_id):
            if event["__typename"] == "MaterializationEvent":
                metadata = {m["label"]: m.get("jsonString") or m.get("url") or m.get("text")
                            for m in event["metadataEntries"]}
                found.append({"asset": "/".join(event["assetKey"]["path"]), "partition": event["partition"],
                              "metadata": metadata})
        return found

    def check_evaluations(self, run_id: str) -> list[dict]:
        """The run's asset-check evaluations: asset (``a/b/c``), check, partition, passed."""
        return [{"asset": "/".join(e["evaluation"]["assetKey"]["path"]), "check": e["evaluation"]["checkName"],
                 "partition": e["evaluation"]["partition"], "passed": e["evaluation"]["success"]}
                for e in self.events(run_id) if e["__typename"] == "AssetCheckEvaluationEvent"]

    def retries_of(self, run_id: str) -> list[dict]:
        """Runs the run-retry daemon launched for ``run_id``."""
        return self.runs(tags={"dagster/parent_run_id": run_id})

    # -- definitions ------------------------------------------------------------------------------------

    def asset_nodes(self) -> list[dict]:
        """Every asset node of the code location: key, group, kinds, owners, dependencies, partitioning."""
        return self(ASSET_NODES)["assetNodes"]

    def check_executions(self, asset: Iterable[str], check: str, limit: int = 1000) -> list[dict]:
        """Executions of one asset check, newest first, with their evaluation (partition, pass/fail)."""
        return self(CHECK_EXECUTIONS, assetKey={"path": list(asset)}, checkName=check, limit=limit)[
            "assetCheckExecutions"]


def repository() -> dict[str, str]:
    """The code location's repository selector."""
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}


def wait_for(probe: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    """Call ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message stack }
  ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }"""

RUN_FIELDS = "runId jobName status startTime endTime tags { key value }"
RUN = f"""query($runId: ID!) {{ runOrError(runId: $runId) {{ __typename ... on Run {{ {RUN_FIELDS} }} }} }}"""
RUNS = f"""query($filter: RunsFilter) {{ runsOrError(filter: $filter) {{
  ... on Runs {{ results {{ {RUN_FIELDS} }} }} }} }}"""

LOGS = """query($runId: ID!, $afterCursor: String) { logsForRun(runId: $runId, afterCursor: $afterCursor, limit: 5000) {
  __typename ... on EventConnection { cursor hasMore events {
    __typename ... on MessageEvent { message timestamp stepKey }
    ... on ExecutionStepFailureEvent { error { message } }
    ... on EngineEvent { metadataEntries { label
      ... on IntMetadataEntry { intValue } ... on TextMetadataEntry { text } } }
    ... on AssetCheckEvaluationEvent { evaluation { checkName success partition assetKey { path } } }
    ... on MaterializationEvent { assetKey { path } partition metadataEntries { label
      ... on JsonMetadataEntry { jsonString } ... on UrlMetadataEntry { url } ... on TextMetadataEntry { text } } }
  } } } }"""

ASSET_NODES = """{ assetNodes { assetKey { path } groupName isObservable isExecutable jobNames
  kinds owners { ... on UserAssetOwner { email } ... on TeamAssetOwner { team } }
  dependencyKeys { path } dependedByKeys { path } partitionDefinition { description } } }"""

CHECK_EXECUTIONS = """query($assetKey: AssetKeyInput!, $checkName: String!, $limit: Int!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, limit: $limit) {
    runId status evaluation { partition success timestamp } } }"""
