"""The deploy files, validated offline with the tools their formats have.

- Dockerfile: hadolint, plus the properties we rely on (uv from the lock, non-root, manifest at build).
- compose.yaml: the Compose Specification's JSON schema (check-jsonschema's vendored copy).
- Instance files: Dagster's own instance-config validation.
- IAM policies: parliament (AWS's action/resource catalogue), and our least-privilege rules.
- ECS task definitions: structure, secrets only from Secrets Manager, every `aws` setting provided.
- Helm values: the UI behind oauth2-proxy; the `cluster` environment's Trino catalog equal to the one `mesh trino
  start` renders (S3 instead of local files, secrets only as ${ENV:...}) and the code location pointed at it.
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
                "LANDING_BUCKET": "mesh-landing", "REPORTS_BUCKET": "mesh-reports",
                "LAKE_FORMATION_ADMIN_PERMISSION_SET": "LakeFormationAdmin"}
#: Actions AWS does not scope to a resource: the only ones allowed on "*".
UNSCOPABLE_ACTIONS = {
    "ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition",
    "dataexchange:ListDataGrants", "dataexchange:ListDataSets",
    "lakeformation:GetDataAccess",
    "lakeformation:CreateDataCellsFilter", "lakeformation:DeleteDataCellsFilter", "lakeformation:ListDataCellsFilter",
    "lakeformation:GrantPermissions", "lakeformation:RevokePermissions", "lakeformation:ListPermissions",
}
#: Lake Formation administration: only in the admin role the documented one-off command assumes.
LAKE_FORMATION_ADMIN_ACTIONS = {
    "lakeformation:CreateDataCellsFilter", "lakeformation:DeleteDataCellsFilter", "lakeformation:GrantPermissions",
    "lakeformation:RevokePermissions",
}
#: parliament's action catalogue predates resource-level permissions on these (the Service Authorization Reference
#: lists CreateDataGrant on data-grants*, CreateJob on jobs*): its "must be *" finding is not applied to them.
PARLIAMENT_OUTDATED = {"dataexchange:CreateDataGrant", "dataexchange:CreateJob"}
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|WEBHOOK", re.IGNORECASE)


def test_dockerfile_passes_hadolint_and_builds_a_non_root_image_from_the_lock():
    result = subprocess.run([str(BIN / "hadolint"), str(DEPLOY / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (DEPLOY / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in text  # the locked environment, nothing resolved at build
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)  # non-root, numeric
    assert "dbt parse" in text and "manifest.json" in text  # the manifest the code location reads, built in
    # application files and the instance file belong to root: the runtime user cannot change what it runs
    assert "COPY --from=build --chown=root:root /app /app" in text
    assert "COPY --chown=root:root --chmod=0444 deploy/dagster.yaml /opt/dagster/home/dagster.yaml" in text
    assert "chown=mesh" not in text and "PYTHONDONTWRITEBYTECODE=1" in text
    assert "DBT_TARGET_PATH=/tmp/" in text  # dbt writes its target and logs outside the read-only /app


def _dockerfile_images(text: str) -> list[str]:
    """Every image a build pulls: FROM lines (ARG defaults resolved) and COPY --from=<image> (not a stage)."""
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE))
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", text, re.MULTILINE))
    images = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
              for image in re.findall(r"^FROM (\S+)", text, re.MULTILINE)]
    images += [source for source in re.findall(r"^COPY --from=(\S+)", text, re.MULTILINE) if source not in stages]
    return images


def test_every_base_image_is_pinned_by_digest():
    images = _dockerfile_images((DEPLOY / "Dockerfile").read_text())
    assert len(images) >= 3
    unpinned = [image for image in images if not re.fullmatch(r"[\w./:-]+@sha256:[0-9a-f]{64}", image)]
    assert unpinned == []


def test_the_build_context_leaves_out_local_state_build_output_and_secrets():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", "**/.venv", ".data", ".cache", "dbt_project/target", "dbt_project/logs", "logs", ".env",
            "**/*.pem", "**/*.key", "tests"} <= ignored
    copied = set(re.findall(r"^COPY (?!--from)(?:--\S+ )*(\S+) ", (DEPLOY / "Dockerfile").read_text(), re.MULTILINE))
    assert not copied & ignored  # nothing the Dockerfile copies is ignored


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
    assert not _findings(analyzed), _findings(analyzed)
    for statement in json.loads(policy.read_text())["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(a != "*" and not a.endswith(":*") for a in actions), statement["Sid"]
        if statement["Resource"] == "*" or "*" in statement["Resource"]:
            assert set(actions) <= UNSCOPABLE_ACTIONS, (statement["Sid"], set(actions) - UNSCOPABLE_ACTIONS)


def _findings(analyzed) -> list:
    """parliament's findings, less two known false alarms: the account-less ARN of an *entitled* data set is an
    alternative to the owned one (AWS requires one of them; the code only reads data sets it owns), and
    :data:`PARLIAMENT_OUTDATED`."""
    kept = []
    for finding in analyzed.findings:
        detail = finding.detail
        if finding.issue == "RESOURCE_MISMATCH":
            detail = [d for d in detail if d["action"] not in PARLIAMENT_OUTDATED
                      and not d["required_format"].startswith("arn:*:dataexchange:*::")]
            if not detail:
                continue
        kept.append((finding.issue, detail))
    return kept


def test_the_code_location_role_covers_what_the_platform_calls():
    policy = json.loads((DEPLOY / "iam" / "code-location-task-role.json").read_text())
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    needed = {"glue:GetTable", "glue:UpdateTable", "s3:GetObject", "s3:PutObject", "athena:StartQueryExecution",
              "dataexchange:CreateRevision", "dataexchange:UpdateRevision", "dataexchange:CreateJob",
              "dataexchange:CreateDataGrant", "dataexchange:DeleteDataGrant", "lakeformation:GetDataAccess",
              # every Data Exchange call of resources/adx_exchange/aws_exchange.py
              "dataexchange:ListDataSets", "dataexchange:ListDataSetRevisions", "dataexchange:GetRevision",
              "dataexchange:DeleteRevision", "dataexchange:StartJob", "dataexchange:GetJob", "dataexchange:CancelJob",
              "dataexchange:ListDataGrants", "dataexchange:ListRevisionAssets",
              "kafka-cluster:ReadData", "kafka-cluster:WriteDataIdempotently"}
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
    from trade_worker.settings import AWS_STREAM_SETTINGS

    task = json.loads((DEPLOY / "ecs" / "stream-trades.json").read_text())
    [container] = task["containerDefinitions"]
    # the worker's own entry point, never the development CLI; every option it is given is one the worker has
    assert container["command"][:3] == ["python", "-m", "trade_worker"] and "--health-port" in container["command"]
    assert set(_options(container["command"])) <= _worker_options(), set(_options(container["command"]))
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
    assert '"python", "-m", "trade_worker"' in template and "mesh" not in template.split("command:")[1][:40]
    assert set(_options(values["args"])) <= _worker_options(), set(_options(values["args"]))
    env = {e["name"]: e["value"] for e in values["env"]}
    assert int(env["MESH_KAFKA_REPLICATION_FACTOR"]) >= int(env["MESH_KAFKA_MIN_INSYNC_REPLICAS"]) >= 2
    ecs_env = {e["name"]: e["value"] for e in container["environment"]}
    assert int(ecs_env["MESH_KAFKA_REPLICATION_FACTOR"]) >= int(ecs_env["MESH_KAFKA_MIN_INSYNC_REPLICAS"]) >= 2


def _options(command: list[str]) -> list[str]:
    return [part for part in command if part.startswith("--")]


def _worker_options() -> set[str]:
    """Every ``--option`` ``python -m trade_worker`` accepts (from its own command definition)."""
    import typer.main

    from trade_worker.cli import stream_trades

    app = typer.Typer()
    app.command()(stream_trades)
    command = typer.main.get_command(app)
    return {name for param in command.params for name in getattr(param, "opts", []) if name.startswith("--")}


# -- Data Exchange: the policy lists exactly what resources/adx_exchange/aws_exchange.py calls -------------------------

#: IAM actions each Data Exchange API operation authorizes (Service Authorization Reference, "API operations
#: defined by AWS Data Exchange"; TagResource for CreateRevision because the code tags the revision it creates).
DATAEXCHANGE_OPERATION_ACTIONS = {
    "ListDataSets": {"ListDataSets"},
    "ListDataSetRevisions": {"ListDataSetRevisions"},
    "CreateRevision": {"CreateRevision", "TagResource"},
    "UpdateRevision": {"UpdateRevision", "PublishDataSet", "PublishToDataGrant"},
    "GetRevision": {"GetRevision"},
    "ListRevisionAssets": {"ListRevisionAssets"},
    "DeleteRevision": {"DeleteRevision"},
    "CreateJob": {"CreateJob"},
    "StartJob": {"StartJob", "CreateAsset", "TagResource"},
    "GetJob": {"GetJob"},
    "CancelJob": {"CancelJob"},
    "ListDataGrants": {"ListDataGrants", "ListDataSets"},
    "CreateDataGrant": {"CreateDataGrant", "CreateJob", "PublishDataSet", "PublishToDataGrant", "StartJob"},
    "DeleteDataGrant": {"DeleteDataGrant", "CreateJob", "DeleteDataSet", "StartJob"},
}
_DX = "arn:aws:dataexchange:${AWS_REGION}:${AWS_ACCOUNT_ID}"
#: The narrowest resource AWS allows per action (its resource type, any id of this account); "*": no resource type.
_RESOURCE_TYPES = {
    "*": ["ListDataSets", "ListDataGrants"],
    f"{_DX}:data-sets/*": ["ListDataSetRevisions", "CreateRevision", "PublishDataSet", "PublishToDataGrant",
                           "DeleteDataSet"],
    f"{_DX}:data-sets/*/revisions/*": ["GetRevision", "UpdateRevision", "DeleteRevision", "ListRevisionAssets",
                                       "CreateAsset"],
    f"{_DX}:jobs/*": ["CreateJob", "StartJob", "GetJob", "CancelJob"],
    f"{_DX}:data-grants/*": ["CreateDataGrant", "DeleteDataGrant"],
}
DATAEXCHANGE_RESOURCES = {
    **{action: {resource} for resource, actions in _RESOURCE_TYPES.items() for action in actions},
    "TagResource": {f"{_DX}:data-sets/*/revisions/*", f"{_DX}:data-sets/*/revisions/*/assets/*"},
}


def _dataexchange_operations() -> set[str]:
    """Data Exchange operations the code calls: every ``self.client.<method>`` of aws_exchange.py (called or
    handed to the paginator), as API operation names."""
    import ast

    tree = ast.parse((ROOT / "resources" / "adx_exchange" / "aws_exchange.py").read_text())
    methods = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
               and isinstance(node.value, ast.Attribute) and node.value.attr == "client"}
    return {"".join(part.title() for part in method.split("_")) for method in methods}


def test_the_policy_allows_every_data_exchange_call_the_code_makes_on_the_narrowest_resource():
    operations = _dataexchange_operations()
    assert {"ListRevisionAssets", "CreateDataGrant", "DeleteDataGrant", "UpdateRevision"} <= operations
    unknown = operations - set(DATAEXCHANGE_OPERATION_ACTIONS)
    assert not unknown, f"add the IAM actions of {unknown} to DATAEXCHANGE_OPERATION_ACTIONS"
    needed = set().union(*(DATAEXCHANGE_OPERATION_ACTIONS[op] for op in operations))
    policy = json.loads((DEPLOY / "iam" / "code-location-task-role.json").read_text())
    granted: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in statement["Action"]:
            if action.startswith("dataexchange:"):
                granted.setdefault(action.split(":", 1)[1], set()).update(resources)
    assert set(granted) == needed, {"missing": needed - set(granted), "not called": set(granted) - needed}
    wrong = {a: r for a, r in granted.items() if r != DATAEXCHANGE_RESOURCES[a]}
    assert not wrong, wrong


def test_lake_formation_administration_is_only_in_the_admin_role():
    for policy in IDENTITY_POLICIES:
        actions = {a for s in json.loads(policy.read_text())["Statement"] for a in s["Action"]}
        if policy.name == "lakeformation-admin-role.json":
            assert actions >= LAKE_FORMATION_ADMIN_ACTIONS
        else:
            assert not actions & LAKE_FORMATION_ADMIN_ACTIONS, policy.name
    trust = json.loads((DEPLOY / "iam" / "lakeformation-admin-trust-policy.json").read_text())
    [statement] = trust["Statement"]
    assert "ecs-tasks.amazonaws.com" not in json.dumps(statement)  # no task, run or service can assume it
    principal = statement["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert "AWSReservedSSO_${LAKE_FORMATION_ADMIN_PERMISSION_SET}_" in principal
    readme = (DEPLOY / "README.md").read_text()
    assert "investment-data-mesh-lakeformation-admin" in readme and "aws sts assume-role" in readme


# -- secrets, database TLS, the authenticated UI ------------------------------------------------------------------


def _task(name: str) -> dict:
    [container] = json.loads((DEPLOY / "ecs" / name).read_text())["containerDefinitions"]
    return container


def _secret_patterns(role_file: str) -> list[str]:
    policy = json.loads((DEPLOY / "iam" / role_file).read_text())
    return [r for s in policy["Statement"] if "secretsmanager:GetSecretValue" in s["Action"] for r in s["Resource"]]


@pytest.mark.parametrize("task", sorted((DEPLOY / "ecs").glob("*.json")), ids=lambda p: p.name)
def test_each_task_reads_only_the_secrets_it_is_given(task):
    from fnmatch import fnmatchcase

    definition = json.loads(task.read_text())
    role = definition["executionRoleArn"].rsplit("/", 1)[1]
    patterns = _secret_patterns({"investment-data-mesh-execution": "execution-role.json",
                                 "investment-data-mesh-execution-instance": "execution-role-instance.json"}[role])
    for secret in definition["containerDefinitions"][0].get("secrets", []):
        assert any(fnmatchcase(secret["valueFrom"] + "-AbCdEf", p) for p in patterns), secret["name"]
    if task.name in ("webserver.json", "daemon.json"):
        assert role == "investment-data-mesh-execution-instance"
        assert [s["name"] for s in definition["containerDefinitions"][0]["secrets"]] == ["DAGSTER_PG_PASSWORD"]
        assert not any(fnmatchcase("arn:aws:secretsmanager:${AWS_REGION}:${AWS_ACCOUNT_ID}:secret:investment-data-mesh/"
                                   "salesforce-password-AbCdEf", p) for p in patterns)


@pytest.mark.parametrize("role", ["daemon-task-role.json", "webserver-task-role.json"])
def test_daemon_and_webserver_task_roles_read_no_secret(role):
    actions = {a for s in json.loads((DEPLOY / "iam" / role).read_text())["Statement"] for a in s["Action"]}
    assert not {a for a in actions if a.startswith("secretsmanager:")}


def test_the_instance_database_is_verified_against_the_rds_ca_bundle_everywhere():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    [bundle] = re.findall(r"^ADD --chmod=0444 https://truststore\.pki\.rds\.amazonaws\.com/\S+ (\S+)$", dockerfile,
                          re.MULTILINE)
    for task in sorted((DEPLOY / "ecs").glob("*.json")):
        env = {e["name"]: e["value"] for e in json.loads(task.read_text())["containerDefinitions"][0]["environment"]}
        if "DAGSTER_PG_HOST" in env:
            assert (env["PGSSLMODE"], env["PGSSLROOTCERT"]) == ("verify-full", bundle), task.name
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    assert values["postgresql"]["postgresqlParams"] == {"sslmode": "verify-full", "sslrootcert": bundle}
    for component in ("dagsterWebserver", "dagsterDaemon"):  # the image that carries the bundle
        assert values[component]["image"]["repository"] == "investment-data-mesh"


def _with_placeholders(text: str) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: {"ALB_ARN": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                                                        "loadbalancer/app/mesh/0123456789abcdef"}.get(m.group(1), "x1"),
                  text)


def _validate(service: str, operation: str, params: dict) -> None:
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    report = ParamValidator().validate(params, model.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_the_ecs_ui_is_reachable_only_through_the_load_balancers_oidc_login():
    listener = json.loads(_with_placeholders((DEPLOY / "ecs" / "alb" / "https-listener.json").read_text()))
    listener["Port"] = int(listener["Port"])
    _validate("elbv2", "CreateListener", listener)
    assert listener["Protocol"] == "HTTPS"
    assert [a["Type"] for a in listener["DefaultActions"]] == ["fixed-response"]  # nothing forwarded by default
    rule = json.loads(_with_placeholders((DEPLOY / "ecs" / "alb" / "webserver-listener-rule.json").read_text()))
    _validate("elbv2", "CreateRule", rule)
    actions = sorted(rule["Actions"], key=lambda a: a["Order"])
    assert [a["Type"] for a in actions] == ["authenticate-oidc", "forward"]
    assert actions[0]["AuthenticateOidcConfig"]["OnUnauthenticatedRequest"] == "authenticate"
    raw_rule = (DEPLOY / "ecs" / "alb" / "webserver-listener-rule.json").read_text()
    assert '"ClientSecret": "${OIDC_CLIENT_SECRET}"' in raw_rule  # substituted at apply time, never stored
    ingress = json.loads(_with_placeholders((DEPLOY / "ecs" / "alb" / "webserver-security-group-ingress.json")
                                            .read_text()))
    _validate("ec2", "AuthorizeSecurityGroupIngress", ingress)
    [permission] = ingress["IpPermissions"]
    assert permission["FromPort"] == permission["ToPort"] == 3000
    assert not permission.get("IpRanges") and not permission.get("Ipv6Ranges")  # only the ALB's security group
    assert len(permission["UserIdGroupPairs"]) == 1
    service = json.loads(_with_placeholders((DEPLOY / "ecs" / "services" / "webserver.json").read_text()))
    _validate("ecs", "CreateService", service)
    assert service["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    assert service["loadBalancers"][0]["containerPort"] == 3000 == int(_task("webserver.json")["command"][4])


def test_the_kubernetes_ui_is_behind_oauth2_proxy_and_the_webhook_url_is_a_secret():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    assert values["dagsterWebserver"]["service"]["type"] == "ClusterIP"
    ingress = values["ingress"]
    assert ingress["enabled"] and ingress["dagsterWebserver"]["tls"]["enabled"]
    assert ingress["annotations"]["nginx.ingress.kubernetes.io/auth-url"].endswith("/oauth2/auth")
    assert "/oauth2/start" in ingress["annotations"]["nginx.ingress.kubernetes.io/auth-signin"]
    proxy = yaml.safe_load((DEPLOY / "helm" / "oauth2-proxy-values.yaml").read_text())
    assert proxy["config"]["existingSecret"] and "clientSecret" not in proxy["config"]
    assert proxy["extraArgs"]["provider"] == "oidc" and proxy["extraArgs"]["cookie-secure"] is True
    policy = yaml.safe_load((DEPLOY / "helm" / "webserver-network-policy.yaml").read_text())
    assert policy["kind"] == "NetworkPolicy" and policy["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy["spec"]["ingress"]
    assert [peer["namespaceSelector"]["matchLabels"] for peer in rule["from"]] == [
        {"kubernetes.io/metadata.name": "ingress-nginx"}]
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert {"name": "mesh-alert-webhook"} in deployment["envSecrets"]
    assert "MESH_ALERT_WEBHOOK_URL" not in json.dumps(deployment.get("env", []))
