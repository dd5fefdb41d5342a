"""HTTPS for the local host, as ``func start --useHttps`` gives it: a certificate for this machine, issued by a
certificate authority of the machine's own, made once (trustme, on the cryptography library) and kept in
``<app dir>/.devhost/``. A client trusts the host once it trusts that authority: ``REQUESTS_CA_BUNDLE`` for
Python clients, the system's or the browser's trust store for the rest."""

from __future__ import annotations

import fcntl
import os
import ssl
from collections.abc import Sequence
from pathlib import Path

import trustme

CA_FILE, CA_KEY_FILE = "devhost-ca.pem", "devhost-ca-key.pem"


def local_ca(folder: Path) -> trustme.CA:
    """The machine's own certificate authority, made on first use and kept (its key readable by this user only);
    hosts starting at once agree on one (a lock in the folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _kept_or_made(folder / CA_FILE, folder / CA_KEY_FILE)


def _kept_or_made(cert: Path, key: Path) -> trustme.CA:
    if cert.is_file() and key.is_file():
        return trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
    ca = trustme.CA(organization_name="devhost local CA")
    descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(ca.private_key_pem.bytes())
    cert.write_bytes(ca.cert_pem.bytes())
    return ca


def server_context(folder: Path, hosts: Sequence[str]) -> ssl.SSLContext:
    """A server TLS context with a certificate for ``hosts``, issued by the local authority (TLS 1.2 or later)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    local_ca(folder).issue_cert(*dict.fromkeys(hosts)).configure_cert(context)
    return context
