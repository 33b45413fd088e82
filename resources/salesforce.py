"""Salesforce: simple-salesforce against the org in aws; the firm's Salesforce export locally.

The local Salesforce-compatible REST server that simple-salesforce itself talks to arrives with the
entitlements issue; until then the ``export`` backend reads the query results the synthetic firm
wrote (the same JSON shape as a REST ``query`` response).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

_EXPORT_FILES = {"Account": "accounts.json", "Contract": "contracts.json"}


class SalesforceResource(ConfigurableResource):
    """Reads Salesforce records (accounts, contracts) as REST query results."""

    backend: str = Field(description="'export' (local JSON export) or 'api' (simple-salesforce)")
    export_dir: str | None = Field(default=None, description="folder of accounts.json / contracts.json (export)")
    username: str | None = Field(default=None, description="API user (api)")
    password: str | None = Field(default=None, description="API password (api)")
    security_token: str | None = Field(default=None, description="API security token (api)")
    domain: str | None = Field(default=None, description="'login', 'test' or a My Domain host (api)")

    def records(self, sobject: str, fields: list[str]) -> list[dict[str, Any]]:
        """All records of ``sobject`` with ``fields``, ordered by ``SystemModstamp, Id``."""
        if self.backend == "export":
            import orjson

            path = Path(self.export_dir or ".") / _EXPORT_FILES[sobject]
            if not path.is_file():
                raise FileNotFoundError(f"Salesforce export for {sobject} not found at {path}")
            rows = orjson.loads(path.read_bytes())["records"]
            return sorted(
                ({f: r.get(f) for f in fields} for r in rows), key=lambda r: (r.get("SystemModstamp"), r.get("Id"))
            )
        if self.backend == "api":
            from simple_salesforce import Salesforce

            client = Salesforce(
                username=self.username, password=self.password, security_token=self.security_token, domain=self.domain
            )
            soql = f"SELECT {', '.join(fields)} FROM {sobject} ORDER BY SystemModstamp, Id"
            return [{f: r.get(f) for f in fields} for r in client.query_all(soql)["records"]]
        raise ValueError(f"unknown Salesforce backend {self.backend!r}; expected 'export' or 'api'")
