"""A local Salesforce-compatible REST server that simple-salesforce itself talks to, over HTTPS.

SQLite-backed, seeded from the firm's Salesforce export; SOAP login, the SOQL subset the platform uses,
``nextRecordsUrl`` paging, sObject get/update/create with ``SystemModstamp`` bumps, Salesforce-shaped
401 / 403 / 400 errors, and local-only hooks to expire sessions and simulate API limits.
``start_server(data_dir, export_dir, port)`` runs it in a background thread; ``mesh salesforce serve``
runs it in the foreground. No Dagster import.
"""

from __future__ import annotations

from mesh_dev.local.salesforce_server.org import LocalCredentials
from mesh_dev.local.salesforce_server.runner import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_PORT,
    SalesforceServerError,
    ServerInfo,
    start_server,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_PORT",
    "LocalCredentials",
    "SalesforceServerError",
    "ServerInfo",
    "start_server",
]
