"""The one Kafka client configuration (resources/kafka_client.py): defaults per environment, one clear error per
contradiction, MSK IAM tokens signed by aws-msk-iam-sasl-signer-python, secrets never shown, and no client
built anywhere else."""

from __future__ import annotations

import ast
import base64
from pathlib import Path

import pytest

from resources.kafka_client import KafkaClientSettings, KafkaSettingsError

REPO = Path(__file__).resolve().parents[2]


def test_local_is_plaintext_and_aws_is_sasl_ssl_with_msk_iam() -> None:
    local = KafkaClientSettings.from_environment({})
    assert local.client_config() == {"security_protocol": "PLAINTEXT"}
    aws = KafkaClientSettings.from_environment({"MESH_ENV": "aws", "AWS_REGION": "eu-west-1"})
    assert (aws.security_protocol, aws.sasl_mechanism, aws.aws_region) == ("SASL_SSL", "OAUTHBEARER", "eu-west-1")


def test_msk_iam_signs_a_kafka_cluster_connect_token_with_the_default_credential_chain(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    config = KafkaClientSettings.from_environment({"MESH_ENV": "aws", "AWS_REGION": "eu-west-1"}).client_config()
    assert config["security_protocol"] == "SASL_SSL" and config["sasl_mechanism"] == "OAUTHBEARER"
    assert config["ssl_check_hostname"] is True
    provider = config["sasl_oauth_token_provider"]
    from kafka.net.sasl.oauth import AbstractTokenProvider

    assert isinstance(provider, AbstractTokenProvider)
    token = provider.token()
    assert provider.token() == token  # reused until shortly before it expires
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    assert url.startswith("https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect")
    assert "AKIDEXAMPLE" in url and "not-a-real-secret" not in url


def test_scram_settings_reach_kafka_python_and_never_show_the_password() -> None:
    settings = KafkaClientSettings.from_environment({
        "MESH_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "MESH_KAFKA_SASL_MECHANISM": "scram-sha-512",
        "MESH_KAFKA_SASL_USERNAME": "mesh-ingest", "MESH_KAFKA_SASL_PASSWORD": "s3cr3t-pw",
        "MESH_KAFKA_SSL_CAFILE": "/etc/kafka/ca.pem",
    })  # fmt: skip
    assert settings.client_config() == {
        "security_protocol": "SASL_SSL", "ssl_check_hostname": True, "ssl_cafile": "/etc/kafka/ca.pem",
        "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "mesh-ingest", "sasl_plain_password": "s3cr3t-pw",
    }  # fmt: skip
    assert "s3cr3t-pw" not in repr(settings) and "s3cr3t-pw" not in settings.describe()
    assert KafkaClientSettings.from_environment(settings.to_environment()) == settings


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"MESH_KAFKA_SECURITY_PROTOCOL": "TLS"}, "MESH_KAFKA_SECURITY_PROTOCOL"),
        ({"MESH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "MESH_KAFKA_SASL_MECHANISM"),
        ({"MESH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "MESH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
          "MESH_KAFKA_SASL_USERNAME": "u"}, "MESH_KAFKA_SASL_PASSWORD"),
        ({"MESH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"}, "MESH_KAFKA_SECURITY_PROTOCOL"),
        ({"MESH_ENV": "aws"}, "AWS_REGION"),
        ({"MESH_ENV": "aws", "AWS_REGION": "eu-west-1", "MESH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
         "SASL_SSL"),
        ({"MESH_KAFKA_SECURITY_PROTOCOL": "SSL", "MESH_KAFKA_SSL_CERTFILE": "c.pem"}, "MESH_KAFKA_SSL_KEYFILE"),
        ({"MESH_KAFKA_SSL_CAFILE": "ca.pem"}, "does not use TLS"),
    ],
)  # fmt: skip
def test_contradictory_settings_fail_with_one_sentence_naming_the_variable(environ, names) -> None:
    with pytest.raises(KafkaSettingsError, match=names) as failed:
        KafkaClientSettings.from_environment(environ)
    assert "\n" not in str(failed.value)


def test_mutual_tls_passes_the_client_certificate() -> None:
    config = KafkaClientSettings("SSL", cert_file="/c.pem", key_file="/k.pem", ca_file="/ca.pem").client_config()
    assert (config["ssl_certfile"], config["ssl_keyfile"], config["ssl_cafile"]) == ("/c.pem", "/k.pem", "/ca.pem")


def _constructions(path: Path) -> list[str]:
    names = {"KafkaProducer", "KafkaConsumer", "KafkaAdminClient"}
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in names:
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {name}")
    return found


def test_every_kafka_client_of_the_code_is_built_by_resources_kafka_client() -> None:
    """Producers, consumers and admin clients get their security from one place: none is built directly."""
    roots = ["mesh_assets", "resources", "sensors", "jobs", "benchmarks"]
    files = [p for root in roots for p in (REPO / root).rglob("*.py")]
    direct = [c for p in files if p.name != "kafka_client.py" for c in _constructions(p)]
    assert direct == []
    assert _constructions(REPO / "resources" / "kafka_client.py") == [], "it passes the class, never calls it inline"
