"""One settings object: every environment variable of the code location is a typed field of ``MeshSettings``,
read when asked (never at import), failing with one sentence naming the variable; the README's table is its."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from resources.settings import (
    MeshSettings,
    MissingSettingError,
    aws_required_settings,
    cluster_required_settings,
    markdown_table,
    mesh_settings,
)

ROOT = Path(__file__).resolve().parents[2]
CODE_LOCATION = ("mesh_assets", "resources", "sensors", "jobs")
#: Environment access that is not a setting, each with why.
NOT_SETTINGS = {
    # writes Great Expectations' own switch before GX is imported (it would phone home otherwise)
    "mesh_assets/warehouse/checks/expectations.py": 'os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")',
    # the Kafka reader's helper process inherits the parent's environment
    "resources/kafka_reader_process.py": "env = dict(os.environ)",
}


def test_the_readme_table_is_the_settings_object() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- settings table: rendered from resources/settings.py -->\n", 1)[1]
    table = table.split("\n<!-- end of settings table -->", 1)[0]
    assert table == markdown_table(), "README's settings table is stale; paste markdown_table()'s output:\n" + \
        markdown_table()
    rows = {line.split("`")[1]: line for line in table.splitlines()[2:]}
    assert set(rows) == {name.upper() for name in MeshSettings.model_fields}
    for name, field in MeshSettings.model_fields.items():
        row = rows[name.upper()]
        aws, cluster = (cell.strip() for cell in row.split(" | ")[3:5])
        assert (aws == "required") == (name.upper() in aws_required_settings()), name
        assert (cluster == "required") == (name.upper() in cluster_required_settings()), name
        if field.default not in (None, "") and not (field.json_schema_extra or {}).get("shown_default"):
            assert f"`{field.default}`" in row, name
    # the two aws variables the README once missed
    assert {"MESH_ATHENA_STAGING_DIR", "MESH_ATHENA_DATA_DIR"} <= set(aws_required_settings())


def test_only_the_settings_module_reads_the_environment_in_the_code_location() -> None:
    readers = []
    for folder in CODE_LOCATION:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative == "resources/settings.py":
                continue
            for line in path.read_text().splitlines():
                code = line.split("#", 1)[0].replace("``os.environ``", "")  # not comments, not docstrings' names
                if re.search(r"os\.environ\b|getenv\(", code) and NOT_SETTINGS.get(relative, "\0") not in line:
                    readers.append(f"{relative}: {line.strip()}")
    assert not readers, "read these through resources.settings.mesh_settings():\n" + "\n".join(readers)


def test_every_variable_named_as_envvar_is_a_setting() -> None:
    source = (ROOT / "resources" / "environment.py").read_text()
    named = set(re.findall(r'EnvVar\("([A-Z_]+)"\)', source))
    assert named and named <= {name.upper() for name in MeshSettings.model_fields}, named


def test_settings_are_read_when_asked_not_at_import(monkeypatch) -> None:
    monkeypatch.delenv("MESH_CDC_MAX_RANGE", raising=False)
    assert mesh_settings().mesh_cdc_max_range == 100_000
    monkeypatch.setenv("MESH_CDC_MAX_RANGE", "250")
    assert mesh_settings().mesh_cdc_max_range == 250
    monkeypatch.setenv("MESH_CDC_MAX_RANGE", "")  # empty is unset
    assert mesh_settings().mesh_cdc_max_range == 100_000
    # a mapping is read alone, not merged with the process's environment
    assert mesh_settings({"MESH_ENV": " AWS "}).mesh_env == "aws"
    assert mesh_settings({}).mesh_kafka_bootstrap is None


@pytest.mark.parametrize(("name", "value", "said"), [
    ("MESH_ENV", "staging", "MESH_ENV is 'staging'; expected one of local, aws, cluster"),
    ("MESH_CDC_MAX_RANGE", "lots", "MESH_CDC_MAX_RANGE is 'lots'; input should be a valid integer"),
    ("MESH_CDC_STALL_AFTER_S", "15m", "MESH_CDC_STALL_AFTER_S is '15m'; input should be a valid number"),
])
def test_a_bad_value_fails_in_one_sentence_naming_the_variable(name, value, said) -> None:
    with pytest.raises(MissingSettingError) as refused:
        mesh_settings({name: value})
    assert str(refused.value).startswith(said) and "\n" not in str(refused.value)


def test_aws_names_every_missing_variable_with_its_purpose_and_secrets_never_show() -> None:
    settings = mesh_settings({"MESH_ENV": "aws", "AWS_REGION": "eu-west-1", "SALESFORCE_PASSWORD": "hunter2-secret"})
    with pytest.raises(MissingSettingError) as refused:
        settings.require()
    message = str(refused.value)
    assert message.startswith("MESH_ENV=aws needs these environment variables: ")
    assert "MESH_ATHENA_DATA_DIR (s3:// location where dbt writes" in message and "AWS_REGION" not in message
    assert "SALESFORCE_PASSWORD" not in message and "SALESFORCE_USERNAME (" in message
    assert "hunter2" not in repr(settings) and settings.salesforce_password.get_secret_value() == "hunter2-secret"
