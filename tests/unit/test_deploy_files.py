"""The deploy files, validated offline with the tools their formats have.

- Dockerfile: hadolint, plus the properties we rely on (uv from the lock, non-root, manifest at build).
- compose.yaml: the Compose Specification's JSON schema (check-jsonschema's vendored copy).
- Instance files: Dagster's own instance-config validation.
- IAM policies: parliament (AWS's action/resource catalogue), and our least-privilege rules.
- ECS task definitions: structure, secrets only from Secrets Manager, every `aws` setting provided.
No Docker engine, AWS account or Helm chart is available here: building and deploying are not tested.
"""

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
PLACEHOLDERS = {"AWS_ACCOUNT_ID": "123456789012", "AWS_REGION": "us-east-1", "LAKE_BUCKET": "mesh-lake",
                "LANDING_BUCKET": "mesh-landing", "REPORTS_BUCKET": "mesh-reports"}
#: Actions AWS does not scope to a resource: the only ones allowed on "*".
UNSCOPABLE_ACTIONS = {
    "ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition", "dataexchange:CreateJob",
    "dataexchange:CreateDataGrant", "dataexchange:ListDataGrants", "dataexchange:ListDataSets",
    "lakeformation:GetDataAccess",
    "lakeformation:CreateDataCellsFilter", "lakeformation:DeleteDataCellsFilter", "lakeformation:ListDataCellsFilter",
    "lakeformation:GrantPermissions", "lakeformation:RevokePermissions", "lakeformation:ListPermissions",
}
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|WEBHOOK", re.IGNORECASE)


def test_dockerfile_passes_hadolint_and_builds_a_non_root_image_from_the_lock():
    result = subprocess.run([str(BIN / "hadolint"), str(DEPLOY / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (DEPLOY / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in text  # the locked environment, nothing resolved at build
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)  # non-root, numeric
    assert "dbt parse" in text and "manifest.json" in text  # the manifest the code location reads, built in
    assert "COPY --chown=mesh:mesh deploy/dagster.yaml /opt/dagster/home/dagster.yaml" in text


def test_compose_file_follows_the_compose_specification():
    result = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                             str(DEPLOY / "compose.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert set(compose["services"]) == {"postgres", "kafka", "code", "webserver", "daemon"}
    images = {compose["services"][s].get("image") for s in ("code", "webserver", "daemon")}
    assert images == {"investment-data-mesh:local"}  # one image for the whole Dagster stack
    assert "DAGSTER_PG_PASSWORD:?" in (DEPLOY / "compose.yaml").read_text()  # no default password
    for service in ("postgres", "kafka", "code"):
        assert compose["services"][service].get("healthcheck") or service == "code"


@pytest.mark.parametrize("instance_file", ["compose/dagster.yaml", "dagster.yaml"])
def test_instance_files_pass_dagsters_instance_config_validation(instance_file, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    for name in ("DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_DB"):
        monkeypatch.setenv(name, "x")
    path = DEPLOY / instance_file
    config, _ = dagster_instance_config(str(path.parent), path.name)
    assert "postgres" in config["storage"]
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_monitoring"]["enabled"] and config["run_retries"]["enabled"]


@pytest.mark.parametrize("workspace", ["compose/workspace.yaml", "ecs/workspace.yaml"])
def test_workspaces_point_at_the_code_location_over_grpc(workspace):
    [entry] = yaml.safe_load((DEPLOY / workspace).read_text())["load_from"]
    assert entry["grpc_server"]["port"] == 4000 and entry["grpc_server"]["location_name"] == "investment_data_mesh"


def _policy_text(path: Path) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: PLACEHOLDERS[m.group(1)], path.read_text())


IDENTITY_POLICIES = sorted(p for p in (DEPLOY / "iam").glob("*.json") if "trust" not in p.name)


@pytest.mark.parametrize("policy", IDENTITY_POLICIES, ids=lambda p: p.name)
def test_iam_policies_are_valid_and_least_privilege(policy):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources
        from parliament import analyze_policy_string

    analyzed = analyze_policy_string(_policy_text(policy), include_community_auditors=False)
    assert not analyzed.findings, [(f.issue, f.detail) for f in analyzed.findings]
    for statement in json.loads(policy.read_text())["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(a != "*" and not a.endswith(":*") for a in actions), statement["Sid"]
        if statement["Resource"] == "*" or "*" in statement["Resource"]:
            assert set(actions) <= UNSCOPABLE_ACTIONS, (statement["Sid"], set(actions) - UNSCOPABLE_ACTIONS)


def test_the_code_location_role_covers_what_the_platform_calls():
    policy = json.loads((DEPLOY / "iam" / "code-location-task-role.json").read_text())
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    needed = {"glue:GetTable", "glue:UpdateTable", "s3:GetObject", "s3:PutObject", "athena:StartQueryExecution",
              "dataexchange:CreateRevision", "dataexchange:UpdateRevision", "dataexchange:CreateJob",
              "dataexchange:CreateDataGrant", "dataexchange:DeleteDataGrant", "lakeformation:CreateDataCellsFilter",
              # every Data Exchange call of mesh_assets/adx/aws_exchange.py
              "dataexchange:ListDataSets", "dataexchange:ListDataSetRevisions", "dataexchange:GetRevision",
              "dataexchange:DeleteRevision", "dataexchange:StartJob", "dataexchange:GetJob", "dataexchange:CancelJob",
              "dataexchange:ListDataGrants",
              "kafka-cluster:ReadData"}
    assert needed <= actions, needed - actions
    writes = [s for s in policy["Statement"] if "s3:PutObject" in s["Action"]]
    assert all("landing" not in r for s in writes for r in s["Resource"])  # vendor files are read-only


def test_ecs_tasks_trust_only_ecs_in_this_account():
    trust = json.loads((DEPLOY / "iam" / "ecs-tasks-trust-policy.json").read_text())
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == "${AWS_ACCOUNT_ID}"


@pytest.mark.parametrize("task", sorted((DEPLOY / "ecs").glob("*.json")), ids=lambda p: p.name)
def test_ecs_task_definitions_take_secrets_from_secrets_manager_only(task):
    definition = json.loads(task.read_text())
    assert definition["requiresCompatibilities"] == ["FARGATE"] and definition["networkMode"] == "awsvpc"
    [container] = definition["containerDefinitions"]
    assert container["user"] == "10001:10001" and container["image"] == "${IMAGE_URI}"
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    plain = {e["name"]: e["value"] for e in container["environment"]}
    leaked = [n for n in plain if SECRET_NAME.search(n)]
    assert not leaked, f"secrets passed as plain environment: {leaked}"
    for secret in container["secrets"]:
        assert secret["valueFrom"].startswith("arn:aws:secretsmanager:"), secret["name"]
    assert plain["DAGSTER_HOME"] == "/opt/dagster/home"


@pytest.mark.parametrize("task", ["code-location.json", "run-worker.json"])
def test_code_and_run_tasks_carry_every_aws_setting(task):
    from resources.environment import AWS_SETTINGS

    [container] = json.loads((DEPLOY / "ecs" / task).read_text())["containerDefinitions"]
    provided = {e["name"] for e in container["environment"]} | {s["name"] for s in container["secrets"]}
    assert provided >= set(AWS_SETTINGS), set(AWS_SETTINGS) - provided
    assert {e["name"]: e["value"] for e in container["environment"]}["MESH_ENV"] == "aws"


def test_the_instance_reads_only_variables_the_ecs_tasks_set():
    instance = (DEPLOY / "dagster.yaml").read_text()
    variables = set(re.findall(r"env: (\w+)", instance))
    [daemon] = json.loads((DEPLOY / "ecs" / "daemon.json").read_text())["containerDefinitions"]
    provided = {e["name"] for e in daemon["environment"]} | {s["name"] for s in daemon["secrets"]}
    assert variables <= provided, variables - provided


def test_the_trade_stream_worker_runs_alone_and_stops_gracefully_on_ecs_and_kubernetes():
    from mesh_assets.streaming.settings import AWS_STREAM_SETTINGS

    task = json.loads((DEPLOY / "ecs" / "stream-trades.json").read_text())
    [container] = task["containerDefinitions"]
    assert container["command"][:2] == ["mesh", "stream-trades"] and "--health-port" in container["command"]
    assert "/healthz" in " ".join(container["healthCheck"]["command"]) and container["stopTimeout"] >= 30
    provided = {e["name"] for e in container["environment"]}
    assert provided >= set(AWS_STREAM_SETTINGS) | {"MESH_ATHENA_WORKGROUP"}
    service = json.loads((DEPLOY / "ecs" / "services" / "stream-trades.json").read_text())
    assert service["taskDefinition"] == task["family"] and service["desiredCount"] == 1
    # never two workers at once: the old task stops before the new one starts
    assert service["deploymentConfiguration"]["maximumPercent"] == 100
    assert service["deploymentConfiguration"]["minimumHealthyPercent"] == 0
    chart = DEPLOY / "helm" / "stream-trades"
    assert yaml.safe_load((chart / "Chart.yaml").read_text())["apiVersion"] == "v2"
    values = yaml.safe_load((chart / "values.yaml").read_text())
    template = (chart / "templates" / "deployment.yaml").read_text()
    assert re.search(r"^  replicas: 1$", template, re.MULTILINE)
    assert re.search(r"strategy:\n    type: Recreate", template)
    assert "terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}" in template
    assert values["terminationGracePeriodSeconds"] >= 30
    assert re.search(r"livenessProbe:\n\s+httpGet:\n\s+path: /healthz", template)
    assert '"mesh", "stream-trades"' in template
