"""A SASL_SSL client listener for the local broker: SCRAM-SHA-512 users and a TLS certificate from a test CA.

:func:`prepare` writes, into ``<data>/tls/``, a CA (``ca.pem``, what clients trust) and the broker's key and
certificate for ``127.0.0.1`` and ``localhost`` (``server.pem``, a PEM key store), both made by ``trustme``;
it returns the broker properties of the listener and the ``--add-scram`` arguments that create the users in
the KRaft metadata when the storage is formatted (as ``kafka-storage format --add-scram`` does). The broker
talks to itself (inter-broker) over the same listener as the SCRAM user :data:`ADMIN_USER`; the controller
listener stays PLAINTEXT on 127.0.0.1.

Users exist from the first format of a data folder: a folder formatted without them cannot gain them here
(start a fresh data folder). Pure Python, no Dagster import.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from resources.kafka_client import KafkaClientSettings

MECHANISM = "SCRAM-SHA-512"
LISTENER = "SASL_SSL"
#: The broker's own user (inter-broker connections, the launcher's readiness probe and topic creation).
ADMIN_USER = "mesh-broker-admin"


@dataclass(frozen=True)
class SaslSsl:
    """Ask :func:`mesh_dev.local.kafka_broker.start` for a SASL_SSL client listener with these users."""

    #: SCRAM-SHA-512 users (name -> password) created when the storage is formatted
    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: the admin user's password (random by default); see :data:`ADMIN_USER`
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)


@dataclass(frozen=True)
class PreparedListener:
    """What the launcher needs to render, format and probe a SASL_SSL broker."""

    properties: str
    format_args: list[str] = field(repr=False)
    ca_file: Path
    admin: KafkaClientSettings


def _scram_arg(user: str, password: str) -> str:
    for value in (user, password):
        if any(c in value for c in '[],="\n'):
            raise ValueError(f"SCRAM user {user!r}: names and passwords may not contain [ ] , = or quotes")
    return f"{MECHANISM}=[name={user},password={password}]"


def _write_tls(tls_dir: Path) -> tuple[Path, Path]:
    """A fresh test CA and server certificate (``ca.pem``, ``server.pem`` with its PKCS#8 key), owner-only."""
    import trustme
    from cryptography.hazmat.primitives import serialization

    ca = trustme.CA(organization_name="investment-data-mesh local Kafka")
    server = ca.issue_cert("127.0.0.1", "localhost")
    key = serialization.load_pem_private_key(server.private_key_pem.bytes(), password=None)
    pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())  # fmt: skip
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_file, keystore = tls_dir / "ca.pem", tls_dir / "server.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    keystore.touch(mode=0o600)
    keystore.write_bytes(pkcs8 + b"".join(blob.bytes() for blob in server.cert_chain_pems))
    return ca_file, keystore


def prepare(data_root: Path, security: SaslSsl) -> PreparedListener:
    """Write the TLS material under ``data_root/tls`` (kept if present) and describe the listener."""
    tls_dir = data_root / "tls"
    ca_file, keystore = tls_dir / "ca.pem", tls_dir / "server.pem"
    if not (ca_file.is_file() and keystore.is_file()):
        ca_file, keystore = _write_tls(tls_dir)
    # The admin user was created with the folder's first format: a restart must log in with that password.
    secret = tls_dir / "admin.secret"
    if not secret.is_file():
        secret.touch(mode=0o600)
        secret.write_text(security.admin_password)
    admin_password = secret.read_text().strip()
    jaas = (f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{ADMIN_USER}" '
            f'password="{admin_password}";')  # fmt: skip
    properties = "\n".join([
        "# SASL_SSL client listener (mesh_dev/local/kafka_broker_security.py)",
        f"sasl.enabled.mechanisms={MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
        f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config={jaas}",
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={keystore}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={ca_file}",
        "ssl.client.auth=none",
        "ssl.endpoint.identification.algorithm=https",
        "",
    ])  # fmt: skip
    users = {ADMIN_USER: admin_password, **security.users}
    format_args = [arg for name, password in users.items() for arg in ("--add-scram", _scram_arg(name, password))]
    admin = KafkaClientSettings(security_protocol=LISTENER, sasl_mechanism=MECHANISM, username=ADMIN_USER,
                                password=admin_password, ca_file=str(ca_file))  # fmt: skip
    return PreparedListener(properties, format_args, ca_file, admin)


def user_settings(ca_file: Path | str, user: str, password: str) -> KafkaClientSettings:
    """Client settings of one SCRAM user of a local SASL_SSL broker."""
    return KafkaClientSettings(security_protocol=LISTENER, sasl_mechanism=MECHANISM, username=user,
                               password=password, ca_file=str(ca_file))  # fmt: skip
