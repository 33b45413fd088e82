"""The local server's HTTPS: a private CA (trustme) kept in the data folder and a server certificate it signs.

The CA survives restarts, so a client configured once with ``ca.pem`` as its CA bundle keeps trusting
the server; the server certificate (127.0.0.1 and localhost) is issued again at every start. Nothing
else trusts this CA: a client without ``verify=<ca.pem>`` fails TLS verification, as it should.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SERVER_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA certificate clients trust, and the server's key + certificate chain."""

    ca_pem: Path
    server_pem: Path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def local_tls(tls_dir: Path) -> TlsFiles:
    """Load (or create) the local CA in ``tls_dir`` and issue a fresh server certificate for 127.0.0.1/localhost."""
    import trustme

    tls_dir.mkdir(parents=True, exist_ok=True)
    ca_pem, ca_key = tls_dir / "ca.pem", tls_dir / "ca.key"
    if ca_pem.is_file() and ca_key.is_file():
        ca = trustme.CA.from_pem(ca_pem.read_bytes(), ca_key.read_bytes())
    else:
        ca = trustme.CA(organization_name="Investment Data Mesh", organization_unit_name="local Salesforce server")
        _write_private(ca_key, ca.private_key_pem.bytes())
        ca.cert_pem.write_to_path(str(ca_pem))
    server_pem = tls_dir / "server.pem"
    _write_private(server_pem, ca.issue_cert(*SERVER_HOSTS).private_key_and_cert_chain_pem.bytes())
    return TlsFiles(ca_pem=ca_pem, server_pem=server_pem)
