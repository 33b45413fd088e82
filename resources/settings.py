"""Every environment variable of the code location, read in one place: :class:`MeshSettings` (pydantic-settings).

Each variable is one typed field whose name is the variable's name in lower case, with its default, what it
is for, and whether ``MESH_ENV=aws`` or ``MESH_ENV=cluster`` requires it. :func:`mesh_settings` reads the
environment when called (never at import), so a process, a sensor tick or a test that changes a variable sees it
on the next call; a bad value fails with one sentence naming the variable. The README's "Environments" table is
rendered from this class (:func:`markdown_table`) and a test keeps the two equal.

Pure Python, no Dagster import: the trade worker (``trade_worker/``) and the development tools read it too.
Variables that only development tools (``mesh_dev/``) read stay there; the ``MESH_DBT_*`` / ``MESH_DUCKDB_*``
variables are not settings but how :mod:`resources.dbt` hands its resource config to dbt's ``profiles.yml`` (it
also hands over ``MESH_ICEBERG_CATALOG_URI`` and ``MESH_TRINO_*`` under their settings' names, with the same values).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

ENVIRONMENTS = ("local", "aws", "cluster")
#: When the end-of-day schedule ticks by default: 18:00 New York, Monday to Friday (holidays skip in the job).
EOD_CRON = "0 18 * * 1-5"
#: When the table maintenance schedule ticks by default: Sunday 03:00 New York (no batch runs then).
MAINTENANCE_CRON = "0 3 * * 0"

_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("mesh_settings_environ", default=None)


class MissingSettingError(RuntimeError):
    """A required environment variable is unset or has a value that cannot work; the message names it."""


def _setting(default: Any, description: str, *, aws: bool = False, cluster: bool = False,
             shown_default: str | None = None) -> Any:
    """A field: ``aws`` / ``cluster`` say whether ``MESH_ENV=aws`` / ``MESH_ENV=cluster`` requires it,
    ``shown_default`` how the README shows the default when it is computed (a path under another setting)."""
    extra = {"aws_required": aws, "cluster_required": cluster,
             **({"shown_default": shown_default} if shown_default else {})}
    return Field(default, description=description, json_schema_extra=extra)


class _EnvironSource(EnvSettingsSource):
    """The environment: ``os.environ``, or the mapping :func:`mesh_settings` was given."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        return parse_env_vars(os.environ if environ is None else environ, self.case_sensitive,
                              self.env_ignore_empty, self.env_parse_none_str)


class MeshSettings(BaseSettings):
    """The code location's settings; field ``x_y`` is the environment variable ``X_Y`` (an empty value is unset)."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore", frozen=True)

    # where it runs
    mesh_env: Literal["local", "aws", "cluster"] = _setting(
        "local", "`local` (embedded: SQLite Iceberg, DuckDB, files), `aws` (Glue, Athena, S3) or `cluster` (Trino and "
        "an Iceberg JDBC catalog on PostgreSQL; files as in `local`)")
    mesh_data_dir: Path | None = _setting(None, "root of the embedded environment's data (`local`)",
                                          shown_default="`<repo>/.data` (installed: `./.data`)")
    mesh_firm_dir: Path | None = _setting(None, "the synthetic firm's landing zone (`local`)",
                                          shown_default="`<MESH_DATA_DIR>/firm`")
    mesh_duckdb_memory_limit: str = _setting("2GB", "DuckDB `memory_limit` of dbt's build and of the checks' queries "
                                             "(`local`; DuckDB spills to disk beyond it)")
    # AWS
    aws_region: str | None = _setting(None, "AWS region of Glue, S3, Athena and ADX", aws=True)
    aws_default_region: str | None = _setting(None, "fallback region of the MSK IAM signer when AWS_REGION is unset")
    mesh_aws_endpoint_url: str | None = _setting(None, "AWS endpoint override for S3 and Glue (VPC endpoint, moto)")
    mesh_iceberg_warehouse: str | None = _setting(
        None, "s3:// warehouse root of the Iceberg catalog (Glue in `aws`); in `cluster` s3:// or file://, paths "
        "Trino reads too", aws=True, cluster=True)
    mesh_landing_root: str | None = _setting(
        None, "s3://bucket/prefix where Bloomberg, FactSet and reference files land", aws=True)
    mesh_athena_workgroup: str | None = _setting(None, "Athena workgroup for dbt and ad-hoc queries", aws=True)
    mesh_athena_staging_dir: str | None = _setting(None, "s3:// location of Athena query results (dbt)", aws=True)
    mesh_athena_data_dir: str | None = _setting(
        None, "s3:// location where dbt writes the silver and gold Iceberg tables", aws=True)
    mesh_reports_root: str | None = _setting(
        None, "s3://bucket/prefix where GIPS reports (PDF, HTML, CSV, JSON) are published", aws=True)
    mesh_adx_staging_root: str | None = _setting(
        None, "s3://bucket/prefix where data product files are staged for ADX import", aws=True)
    # cluster: Trino and the Iceberg JDBC catalog it shares with pyiceberg
    mesh_iceberg_catalog_uri: SecretStr | None = _setting(
        None, "SQLAlchemy URI of the Iceberg JDBC catalog's PostgreSQL database, e.g. "
        "`postgresql+psycopg2://user:password@host:5432/iceberg` (secret: it holds the password)", cluster=True)
    mesh_trino_host: str | None = _setting(None, "host of the Trino coordinator", cluster=True)
    mesh_trino_port: int = _setting(8080, "HTTP port of the Trino coordinator")
    mesh_trino_catalog: str = _setting(
        "mesh", "Trino catalog of the Iceberg tables; also the pyiceberg catalog's name (the two must match)")
    mesh_trino_user: str = _setting("mesh", "user the code location's Trino queries and dbt run as")
    mesh_dbt_days_per_build: int = _setting(
        0, "on `cluster`, the most trading days one dbt build covers: a longer range (a backfill) is built that many "
        "days at a time, oldest first, so a query holds that much of the firm, not all of it (0: the whole range at "
        "once; 252 builds a year at a time)")
    # alerts
    mesh_alert_webhook_url: str | None = _setting(
        None, "webhook (Slack, Teams, PagerDuty...) receiving run-failure and freshness alerts as JSON; "
        "`local` without it: alerts are only logged", aws=True)
    mesh_dagster_ui_url: str | None = _setting(None, "base URL of the Dagster UI for the alerts' deep links")
    # Kafka
    mesh_kafka_bootstrap: str | None = _setting(
        None, "MSK bootstrap servers for Aladdin CDC and the distribution topics (NAV, performance); "
        "`local` without it: CDC replays the capture files, distribution writes the outbox", aws=True)
    mesh_distribution_kafka_bootstrap: str | None = _setting(
        None, "the distribution topics on another cluster than the CDC topics", shown_default="MESH_KAFKA_BOOTSTRAP")
    mesh_kafka_topic_prefix: str = _setting("", "prefix of every topic name (e.g. `dev.`)")
    mesh_kafka_security_protocol: str | None = _setting(
        None, "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", shown_default="PLAINTEXT; `aws`: SASL_SSL")
    mesh_kafka_sasl_mechanism: str | None = _setting(
        None, "OAUTHBEARER (MSK IAM), SCRAM-SHA-512 or SCRAM-SHA-256", shown_default="`aws` with SASL: OAUTHBEARER")
    mesh_kafka_sasl_username: str | None = _setting(None, "SCRAM user")
    mesh_kafka_sasl_password: SecretStr | None = _setting(None, "SCRAM password (secret)")
    mesh_kafka_ssl_cafile: str | None = _setting(None, "PEM of the CA that signed the broker's certificate",
                                                 shown_default="the system's trust store")
    mesh_kafka_ssl_certfile: str | None = _setting(None, "client certificate (PEM) for mutual TLS")
    mesh_kafka_ssl_keyfile: str | None = _setting(None, "client key (PEM) for mutual TLS")
    # Salesforce
    mesh_salesforce_url: str | None = _setting(
        None, "`local`: login URL of a Salesforce-compatible server; unset: the firm's export is read")
    mesh_salesforce_ca_bundle: str | None = _setting(None, "`local`: CA bundle (PEM) trusted for MESH_SALESFORCE_URL")
    salesforce_username: str | None = _setting(None, "Salesforce integration user", aws=True)
    salesforce_password: SecretStr | None = _setting(None, "Salesforce integration user's password (secret)", aws=True)
    salesforce_security_token: SecretStr | None = _setting(
        None, "Salesforce integration user's security token (secret)", aws=True)
    salesforce_domain: str | None = _setting(
        None, "'login' for production orgs, 'test' for sandboxes, or the My Domain host", aws=True)
    # sensors, schedules and checks
    mesh_eod_cron: str = _setting(EOD_CRON, "cron (New York) of the end-of-day schedule")
    mesh_salesforce_overlap_s: int = _setting(300, "seconds the contract sensor re-reads before its cursor")
    mesh_contract_sensor_interval_s: int = _setting(15, "minimum seconds between Salesforce contract sensor ticks")
    mesh_cdc_max_range: int = _setting(100_000, "records per partition in one CDC micro-batch")
    mesh_cdc_lag_error: int = _setting(100_000, "consumer lag at which the CDC lag check turns ERROR")
    mesh_cdc_max_attempts: int = _setting(5, "failures of a CDC range for one reason before the sensor gives it up")
    mesh_cdc_retry_backoff_s: float = _setting(30.0, "first wait before a failed CDC range is asked again (doubles)")
    mesh_cdc_retry_backoff_max_s: float = _setting(1800.0, "longest wait between CDC range retries")
    mesh_cdc_stall_after_s: float = _setting(
        900.0, "seconds a CDC partition may lag with no commit before `partition_stalled` turns red")
    mesh_audit_batch_size: int = _setting(5000, "check evaluations the audit sensor appends per commit")
    mesh_audit_sensor_interval_s: int = _setting(60, "minimum seconds between audit sensor ticks")
    mesh_trade_stream_sensor_interval: int = _setting(5, "seconds between trade stream sensor evaluations")
    mesh_pii_allow_list: str | None = _setting(
        None, 'JSON `{"columns": [...], "values": [...], "patterns": [...]}`: the most a publication\'s PII '
        "scan may allow", shown_default="empty")
    # table maintenance (the weekly `table_maintenance` job)
    mesh_maintenance_cron: str = _setting(MAINTENANCE_CRON, "cron (New York) of the table maintenance schedule")
    mesh_snapshot_retention_days: float = _setting(
        7.0, "Iceberg snapshots older than this many days are expired (never those carrying committed source "
        "positions a reader needs)")
    mesh_snapshot_keep_last: int = _setting(5, "newest snapshots of each table kept whatever their age")
    mesh_compaction_small_file_mb: int = _setting(32, "data files under this size (MB) count as small")
    mesh_compaction_min_small_files: int = _setting(8, "small files a table must hold before it is compacted")
    # chaos testing (the crash-injection test and benchmark)
    mesh_fault_injection: str | None = _setting(
        None, "e.g. `after_data_files=0.3`: SIGKILL the CDC commit at named points with that probability")
    mesh_fault_seed: str | None = _setting(None, "seed of the fault injection's random draws")
    mesh_fault_log: str | None = _setting(None, "file the fault injection appends each crash point to")

    @field_validator("mesh_env", mode="before")
    @classmethod
    def _known_environment(cls, value: Any) -> Any:
        env = str(value).strip().lower() or "local"
        if env not in ENVIRONMENTS:
            raise ValueError(f"expected one of {', '.join(ENVIRONMENTS)}")
        return env

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the environment (no ``.env`` file, no secrets directory)."""
        return init_settings, _EnvironSource(settings_cls)

    def data_dir(self) -> Path:
        """Root of the embedded environment's data: ``MESH_DATA_DIR``, default ``<repo>/.data``."""
        return Path(self.mesh_data_dir or repo_root() / ".data").resolve()

    def firm_dir(self) -> Path:
        """The synthetic firm's landing zone: ``MESH_FIRM_DIR``, default ``<data>/firm``."""
        return Path(self.mesh_firm_dir or self.data_dir() / "firm").resolve()

    def distribution_bootstrap(self) -> str | None:
        """Bootstrap servers of the distribution topics (``MESH_DISTRIBUTION_KAFKA_BOOTSTRAP``, else the CDC's)."""
        return self.mesh_distribution_kafka_bootstrap or self.mesh_kafka_bootstrap

    def require(self, names: Mapping[str, str] | None = None, env: str | None = None) -> None:
        """Raise :class:`MissingSettingError` naming every unset variable of ``names`` (name -> purpose; default:
        all that ``aws`` requires)."""
        wanted = aws_required_settings() if names is None else names
        missing = [f"{name} ({purpose})" for name, purpose in wanted.items()
                   if getattr(self, name.lower()) in (None, "")]
        if missing:
            raise MissingSettingError(f"MESH_ENV={env or self.mesh_env} needs these environment variables: "
                                      + "; ".join(missing))


def mesh_settings(environ: Mapping[str, str] | None = None) -> MeshSettings:
    """The settings of ``environ`` (default: ``os.environ`` as it is now); a bad value raises
    :class:`MissingSettingError` naming the variable."""
    token = _ENVIRON.set(environ)
    try:
        return MeshSettings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "?"
            message = error["msg"].removeprefix("Value error, ")
            field = MeshSettings.model_fields.get(name.lower())
            shown = "set" if field and "SecretStr" in str(field.annotation) else f"{error['input']!r}"  # never a secret
            problems.append(f"{name} is {shown}; {message[:1].lower()}{message[1:]}")
        raise MissingSettingError("; ".join(problems)) from None
    finally:
        _ENVIRON.reset(token)


def aws_required_settings() -> dict[str, str]:
    """The variables ``MESH_ENV=aws`` requires, each with what it is for."""
    return _required("aws_required")


def cluster_required_settings() -> dict[str, str]:
    """The variables ``MESH_ENV=cluster`` requires, each with what it is for."""
    return _required("cluster_required")


def _required(flag: str) -> dict[str, str]:
    return {name.upper(): field.description or "" for name, field in MeshSettings.model_fields.items()
            if (field.json_schema_extra or {}).get(flag)}


def markdown_table() -> str:
    """The README's table of every variable: name, type, default, whether ``aws`` and ``cluster`` require it, and
    what it is for."""
    rows = ["| variable | type | default | `aws` | `cluster` | what |", "|---|---|---|---|---|---|"]
    for name, field in MeshSettings.model_fields.items():
        extra = field.json_schema_extra or {}
        kind = str(field.annotation).replace("typing.", "").removesuffix(" | None")
        kind = {"<class 'int'>": "int", "<class 'float'>": "float", "<class 'str'>": "str", "str": "str",
                "pathlib.Path": "path", "pydantic.types.SecretStr": "secret",
                "Literal['local', 'aws', 'cluster']": "`local` / `aws` / `cluster`"}.get(kind, kind)
        default = extra.get("shown_default") or ("—" if field.default in (None, "") else f"`{field.default}`")
        aws = "required" if extra.get("aws_required") else ""
        cluster = "required" if extra.get("cluster_required") else ""
        rows.append(f"| `{name.upper()}` | {kind} | {default} | {aws} | {cluster} | {field.description} |")
    return "\n".join(rows)


def mesh_env() -> str:
    """The environment this code location runs in: ``MESH_ENV`` (``local`` by default, ``aws`` or ``cluster``)."""
    return mesh_settings().mesh_env


def repo_root() -> Path:
    """The repository root (the folder holding ``dbt_project/``) when run from a checkout; installed from the
    wheel, the working directory (the default data folder is then ``./.data``, never inside site-packages)."""
    from mesh_assets.lib.project_files import CHECKOUT, PACKAGED

    return Path.cwd() if PACKAGED.is_dir() else CHECKOUT


def data_dir() -> Path:
    """Root of the embedded environment's data: ``MESH_DATA_DIR``, default ``<repo>/.data``."""
    return mesh_settings().data_dir()


def firm_dir() -> Path:
    """The synthetic firm's landing zone: ``MESH_FIRM_DIR``, default ``<data>/firm``."""
    return mesh_settings().firm_dir()


def require(variables: Mapping[str, str], env: str) -> None:
    """Raise :class:`MissingSettingError` naming every unset variable of ``variables`` (name -> purpose)."""
    mesh_settings().require(variables, env)


@contextmanager
def overridden_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block, then restore the previous values (or their absence)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cdc_retry_policy():
    """How the CDC sensor retries a failing range: ``MESH_CDC_MAX_ATTEMPTS`` (default 5 failures for the same
    reason, then it stops asking), ``MESH_CDC_RETRY_BACKOFF_S`` (default 30: wait 30 s, 60 s, 120 s, ... after
    each failure) and ``MESH_CDC_RETRY_BACKOFF_MAX_S`` (default 1800, the longest wait)."""
    from mesh_assets.lib.cdc.retry_policy import RetryPolicy

    settings = mesh_settings()
    return RetryPolicy(max_attempts=settings.mesh_cdc_max_attempts, base_backoff_s=settings.mesh_cdc_retry_backoff_s,
                       max_backoff_s=settings.mesh_cdc_retry_backoff_max_s)


def cdc_stall_after_s() -> float:
    """Seconds a CDC partition may be behind the broker with no commit before ``partition_stalled`` turns red:
    ``MESH_CDC_STALL_AFTER_S`` (default 900)."""
    return mesh_settings().mesh_cdc_stall_after_s
