"""POSTing JSON to a caller's URL without letting the URL aim inside the network.

The host is resolved here, each address it resolves to is checked (``domain.addresses``), and
the connection goes to the address that was checked: a DNS answer that changes between the
check and the connection (rebinding) cannot redirect it. TLS still verifies the certificate
against the host name (SNI and hostname check), and redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3

from ..domain.addresses import OutboundPolicy, ip_literal, refused


class OutboundRefused(Exception):
    """The URL's host resolves to an address callbacks may not reach."""


def _resolved(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    parsed = ip_literal(address)  # the one parser of addresses (it drops an IPv6 zone such as %eth0)
    if parsed is None:
        raise OutboundRefused("the resolver returned something that is not an address")
    return parsed


def _address(host: str, port: int, policy: OutboundPolicy) -> str:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [str(info[4][0]) for info in infos]
    if policy.guards(host) and any(refused(_resolved(a)) for a in addresses):
        raise OutboundRefused("the host resolves to a non-public address")
    return str(addresses[0])


def post_json(url: str, payload: Any, *, policy: OutboundPolicy, timeout: float,
              sign: Callable[[bytes], dict[str, str]] | None = None) -> int:
    """POST ``payload`` as JSON to ``url`` at the address its host was checked to resolve to; the status code.

    ``sign`` gives extra headers for the exact body bytes (the signature). Raises OutboundRefused,
    or whatever the connection raises (the caller records it, never the URL).
    """
    parts = urlsplit(url)
    host, https = parts.hostname or "", parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    address = _address(host, port, policy)
    limit = urllib3.Timeout(total=timeout)  # connecting and reading together, not each on its own
    pool: urllib3.HTTPConnectionPool
    if https:
        pool = urllib3.HTTPSConnectionPool(
            address, port, timeout=limit, retries=False, cert_reqs="CERT_REQUIRED", server_hostname=host,
            assert_hostname=host, ca_certs=os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where())
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=limit, retries=False)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = json.dumps(payload).encode("utf-8")
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "Content-Type": "application/json",
               "User-Agent": "background-operations", **(sign(body) if sign else {})}
    with pool:
        response = pool.urlopen("POST", target, body=body, headers=headers, redirect=False, assert_same_host=False)
    return int(response.status)
