"""The one Kafka client configuration: security protocol, SASL mechanism, credentials and TLS, from the environment.

Every producer, consumer and admin client of the project is built by :func:`new_consumer`, :func:`new_producer`
or :func:`new_admin` (or takes :meth:`KafkaClientSettings.client_config`), so a broker's security is set in one
place. Settings (environment variables, read through ``resources.settings`` when a client is built; the
reader's helper process and the trade worker inherit them):

``MESH_KAFKA_SECURITY_PROTOCOL``
    ``PLAINTEXT`` (default in ``local``), ``SSL``, ``SASL_PLAINTEXT`` or ``SASL_SSL`` (default in ``aws``).
``MESH_KAFKA_SASL_MECHANISM``
    ``OAUTHBEARER`` (default in ``aws``): Amazon MSK IAM, tokens signed with the task role's credentials by
    ``aws-msk-iam-sasl-signer-python`` for ``AWS_REGION``; ``SCRAM-SHA-512`` / ``SCRAM-SHA-256`` (a self-hosted
    broker) with ``MESH_KAFKA_SASL_USERNAME`` and ``MESH_KAFKA_SASL_PASSWORD``.
``MESH_KAFKA_SSL_CAFILE``
    PEM file of the CA that signed the broker's certificate (default: the system's trust store).
``MESH_KAFKA_SSL_CERTFILE`` / ``MESH_KAFKA_SSL_KEYFILE``
    client certificate and key (PEM) for mutual TLS with a self-hosted broker (``SSL``, or with SASL).

The password and tokens are never logged: :meth:`KafkaClientSettings.describe` and ``repr`` leave them out.
A broker that refuses the credentials gives one :class:`KafkaAuthenticationFailed` naming the broker, the user
and the variables to check. Pure Python, no Dagster import; kafka-python is imported when a client is built.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resources.settings import MeshSettings

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SCRAM_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
MSK_IAM = "OAUTHBEARER"
MECHANISMS = (*SCRAM_MECHANISMS, MSK_IAM)

PROTOCOL_VAR = "MESH_KAFKA_SECURITY_PROTOCOL"
MECHANISM_VAR = "MESH_KAFKA_SASL_MECHANISM"
USERNAME_VAR = "MESH_KAFKA_SASL_USERNAME"
PASSWORD_VAR = "MESH_KAFKA_SASL_PASSWORD"
CAFILE_VAR = "MESH_KAFKA_SSL_CAFILE"
CERTFILE_VAR = "MESH_KAFKA_SSL_CERTFILE"
KEYFILE_VAR = "MESH_KAFKA_SSL_KEYFILE"
#: Seconds before an MSK IAM token's expiry at which a new one is signed (tokens live 15 minutes).
TOKEN_REFRESH_MARGIN_S = 60.0


class KafkaSettingsError(ValueError):
    """The Kafka security settings contradict each other or miss a value; the message names the variable."""


class KafkaAuthenticationFailed(RuntimeError):
    """The broker refused this client's credentials (or its TLS handshake failed)."""


@dataclass(frozen=True)
class KafkaClientSettings:
    """How every client of this process authenticates to Kafka and verifies the broker."""

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    aws_region: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> KafkaClientSettings:
        """The settings of ``environ`` (default ``os.environ``), with the defaults of its ``MESH_ENV``; validated."""
        from resources.settings import mesh_settings

        return cls.from_settings(mesh_settings(environ))

    @classmethod
    def from_settings(cls, settings: MeshSettings) -> KafkaClientSettings:
        """The Kafka part of the code location's settings, with the defaults of its ``MESH_ENV``; validated."""
        aws = settings.mesh_env == "aws"
        protocol = (settings.mesh_kafka_security_protocol or ("SASL_SSL" if aws else "PLAINTEXT")).strip().upper()
        mechanism = (settings.mesh_kafka_sasl_mechanism or "").strip().upper() or None
        if mechanism is None and aws and protocol.startswith("SASL_"):
            mechanism = MSK_IAM
        password = settings.mesh_kafka_sasl_password
        built = cls(
            security_protocol=protocol,
            sasl_mechanism=mechanism,
            username=settings.mesh_kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            ca_file=settings.mesh_kafka_ssl_cafile,
            cert_file=settings.mesh_kafka_ssl_certfile,
            key_file=settings.mesh_kafka_ssl_keyfile,
            aws_region=settings.aws_region or settings.aws_default_region,
        )
        built.validate()
        return built

    def validate(self) -> None:
        """Raise :class:`KafkaSettingsError` (one sentence naming the variable) if the settings cannot work."""
        if self.security_protocol not in PROTOCOLS:
            raise KafkaSettingsError(
                f"{PROTOCOL_VAR} is {self.security_protocol!r}; expected one of {', '.join(PROTOCOLS)}"
            )
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and self.sasl_mechanism not in MECHANISMS:
            raise KafkaSettingsError(
                f"{PROTOCOL_VAR}={self.security_protocol} needs {MECHANISM_VAR} set to one of {', '.join(MECHANISMS)}"
                f", not {self.sasl_mechanism!r}"
            )
        if not sasl and self.sasl_mechanism:
            raise KafkaSettingsError(
                f"{MECHANISM_VAR}={self.sasl_mechanism} needs {PROTOCOL_VAR} SASL_SSL (or SASL_PLAINTEXT), "
                f"not {self.security_protocol}"
            )
        if sasl and self.sasl_mechanism in SCRAM_MECHANISMS and not (self.username and self.password):
            raise KafkaSettingsError(f"{self.sasl_mechanism} needs {USERNAME_VAR} and {PASSWORD_VAR}")
        if self.sasl_mechanism == MSK_IAM and self.security_protocol != "SASL_SSL":
            raise KafkaSettingsError(f"MSK IAM ({MECHANISM_VAR}={MSK_IAM}) needs {PROTOCOL_VAR}=SASL_SSL")
        if self.sasl_mechanism == MSK_IAM and not self.aws_region:
            raise KafkaSettingsError(f"MSK IAM ({MECHANISM_VAR}={MSK_IAM}) needs AWS_REGION (the cluster's region)")
        if bool(self.cert_file) != bool(self.key_file):
            raise KafkaSettingsError(f"mutual TLS needs both {CERTFILE_VAR} and {KEYFILE_VAR}")
        if (self.cert_file or self.ca_file) and not self.tls:
            raise KafkaSettingsError(
                f"{CAFILE_VAR}/{CERTFILE_VAR} are set but {PROTOCOL_VAR}={self.security_protocol} does not use TLS"
            )

    @property
    def tls(self) -> bool:
        """Whether connections are encrypted and the broker's certificate verified."""
        return self.security_protocol in ("SSL", "SASL_SSL")

    def client_config(self) -> dict[str, Any]:
        """kafka-python settings (``KafkaConsumer`` / ``KafkaProducer`` / ``KafkaAdminClient`` keyword arguments)."""
        config: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.tls:
            config["ssl_check_hostname"] = True  # never switched off
            if self.ca_file:
                config["ssl_cafile"] = self.ca_file
            if self.cert_file:
                config["ssl_certfile"] = self.cert_file
                config["ssl_keyfile"] = self.key_file
        if self.sasl_mechanism in SCRAM_MECHANISMS:
            config.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.username,
                          sasl_plain_password=self.password)  # fmt: skip
        elif self.sasl_mechanism == MSK_IAM:
            provider = msk_iam_token_provider(self.aws_region)
            config.update(sasl_mechanism="OAUTHBEARER", sasl_oauth_token_provider=provider)
        return config

    def describe(self) -> str:
        """The settings for logs and error messages: protocol, mechanism, user, CA file; never a secret."""
        parts = [self.security_protocol]
        if self.sasl_mechanism == MSK_IAM:
            parts.append(f"MSK IAM ({self.aws_region})")
        elif self.sasl_mechanism:
            parts.append(f"{self.sasl_mechanism} user {self.username!r}")
        if self.ca_file:
            parts.append(f"CA {self.ca_file}")
        if self.cert_file:
            parts.append(f"client certificate {self.cert_file}")
        return ", ".join(parts)

    def to_environment(self) -> dict[str, str]:
        """These settings as the environment variables :meth:`from_environment` reads (for a child process)."""
        values = {PROTOCOL_VAR: self.security_protocol, MECHANISM_VAR: self.sasl_mechanism, USERNAME_VAR: self.username,
                  PASSWORD_VAR: self.password, CAFILE_VAR: self.ca_file, CERTFILE_VAR: self.cert_file,
                  KEYFILE_VAR: self.key_file, "AWS_REGION": self.aws_region}  # fmt: skip
        return {name: value for name, value in values.items() if value}


_providers: dict[str, Any] = {}
_providers_lock = threading.Lock()


def msk_iam_token_provider(region: str | None):
    """The process's kafka-python OAUTHBEARER token provider for Amazon MSK IAM in ``region``.

    Tokens are signed (SigV4, ``kafka-cluster:Connect``) with the default AWS credential chain (the ECS task
    role) by ``aws-msk-iam-sasl-signer-python``, reused until shortly before they expire.
    """
    from kafka.net.sasl.oauth import AbstractTokenProvider

    class MskIamTokenProvider(AbstractTokenProvider):
        def __init__(self, region: str) -> None:
            self.region = region
            self._token: str | None = None
            self._expires_at = 0.0
            self._lock = threading.Lock()

        def token(self) -> str:
            with self._lock:
                if self._token is None or time.time() > self._expires_at - TOKEN_REFRESH_MARGIN_S:
                    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

                    token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(self.region)
                    self._token, self._expires_at = token, expiry_ms / 1000.0
                return self._token

        def __repr__(self) -> str:
            return f"MskIamTokenProvider({self.region!r})"

    if not region:
        raise KafkaSettingsError(f"MSK IAM ({MECHANISM_VAR}={MSK_IAM}) needs AWS_REGION (the cluster's region)")
    with _providers_lock:
        if region not in _providers:
            _providers[region] = MskIamTokenProvider(region)
        return _providers[region]


def client_settings() -> KafkaClientSettings:
    """This process's Kafka client settings (read from the environment now)."""
    return KafkaClientSettings.from_environment()


class _RefusedLogin(Exception):
    """Raised inside kafka-python's bootstrap to end it at a refused login (see :class:`_FailFastOnRefusedLogin`)."""


#: Bootstrap connections closed by the broker in a row (after the TLS handshake, while logging in) taken as a
#: refused login when the broker's own error response was lost (see :class:`_FailFastOnRefusedLogin`).
CLOSED_DURING_LOGIN_LIMIT = 3


class _FailFastOnRefusedLogin(logging.Filter):
    """End a bootstrap at a refused login instead of retrying it until the bootstrap timeout.

    kafka-python 3.0 retries a bootstrap whose login the broker refused until its timeout (30 s), then reports
    only "Unable to bootstrap"; and when the broker's error response and its close of the connection arrive in
    one read, kafka-python drops the response and sees only "socket disconnected". This filter reads the failures
    the bootstrap loop logs: the broker's refusal (or a certificate the CA does not verify) ends it at once, and so
    do :data:`CLOSED_DURING_LOGIN_LIMIT` closes in a row by a broker that accepted TLS. Installed only in a
    process whose clients log in (SASL or TLS): a wrong password or certificate does not get better by retrying.
    """

    def __init__(self) -> None:
        super().__init__()
        self._closed: dict[int, tuple[int, float]] = {}  # thread -> (closes in a row, monotonic time of the last)

    def reset(self) -> None:
        """Forget the closes counted so far (a new client is being built)."""
        self._closed.clear()

    def filter(self, record: logging.LogRecord) -> bool:
        import ssl

        from kafka.errors import KafkaConnectionError, SaslAuthenticationFailedError

        if not str(record.msg).startswith("Bootstrap connection to"):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        for arg in args:
            if isinstance(arg, SaslAuthenticationFailedError | ssl.SSLCertVerificationError) or (
                isinstance(arg, KafkaConnectionError) and "CERTIFICATE_VERIFY_FAILED" in str(arg)
            ):
                raise _RefusedLogin(str(arg))
            if isinstance(arg, KafkaConnectionError) and "socket disconnected" in str(arg):
                thread, now = threading.get_ident(), time.monotonic()
                count, last = self._closed.get(thread, (0, now))
                count = count + 1 if now - last < 60 else 1
                self._closed[thread] = (count, now)
                if count >= CLOSED_DURING_LOGIN_LIMIT:
                    self._closed.pop(thread, None)
                    raise _RefusedLogin(
                        f"the broker closed the connection during the login {count} times in a row (the credentials "
                        "were most likely refused)"
                    )
        return True


_fail_fast_filter: _FailFastOnRefusedLogin | None = None


def _fail_fast() -> None:
    """Install the filter once; a new client starts its count of closes afresh."""
    global _fail_fast_filter
    if _fail_fast_filter is None:
        _fail_fast_filter = _FailFastOnRefusedLogin()
        logging.getLogger("kafka.net.manager").addFilter(_fail_fast_filter)
    _fail_fast_filter.reset()


def _built(factory, bootstrap_servers: str, settings: KafkaClientSettings | None, kwargs: dict[str, Any]):
    settings = settings or client_settings()
    if settings.sasl_mechanism or settings.tls:
        _fail_fast()
    try:
        return factory(bootstrap_servers=bootstrap_servers, **settings.client_config(), **kwargs)
    except Exception as exc:
        raise _explained(exc, bootstrap_servers, settings) from None


def _explained(exc: Exception, bootstrap_servers: str, settings: KafkaClientSettings) -> Exception:
    """One clear error for a refused login or TLS handshake; other errors as they are."""
    import ssl

    from kafka.errors import SaslAuthenticationFailedError

    if isinstance(exc, _RefusedLogin | SaslAuthenticationFailedError | ssl.SSLError):
        hint = ""
        if "certificate" in str(exc):
            hint = f"; check {CAFILE_VAR} (the CA that signed the broker's certificate) and the broker's host name"
        elif settings.sasl_mechanism in SCRAM_MECHANISMS:
            hint = f"; check {USERNAME_VAR} and {PASSWORD_VAR}"
        elif settings.sasl_mechanism == MSK_IAM:
            hint = "; check the task role's kafka-cluster:Connect permission and AWS_REGION"
        reason = re.split(r"(?:Error|Exception):\s*", str(exc).strip())[-1].strip(" ()")[:300]
        # one wording whichever way kafka-python surfaced the refusal (an error response or closed sockets)
        what = "the TLS handshake failed" if "certificate" in str(exc) else "the broker refused the login"
        return KafkaAuthenticationFailed(
            f"could not log in to the Kafka broker {bootstrap_servers} ({settings.describe()}): {what} ({reason}){hint}"
        )
    return exc


def new_consumer(bootstrap_servers: str, settings: KafkaClientSettings | None = None, **kwargs: Any):
    """A ``KafkaConsumer`` with this process's security settings (``settings`` overrides the environment)."""
    from kafka import KafkaConsumer

    return _built(KafkaConsumer, bootstrap_servers, settings, kwargs)


def new_producer(bootstrap_servers: str, settings: KafkaClientSettings | None = None, **kwargs: Any):
    """A ``KafkaProducer`` with this process's security settings (``settings`` overrides the environment)."""
    from kafka import KafkaProducer

    return _built(KafkaProducer, bootstrap_servers, settings, kwargs)


def new_admin(bootstrap_servers: str, settings: KafkaClientSettings | None = None, **kwargs: Any):
    """A ``KafkaAdminClient`` with this process's security settings (``settings`` overrides the environment)."""
    from kafka import KafkaAdminClient

    return _built(KafkaAdminClient, bootstrap_servers, settings, kwargs)
