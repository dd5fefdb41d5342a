"""Which network addresses a callback or webhook may reach (issue 9): the public internet only.

Callbacks and webhooks are URLs a caller chooses, POSTed to from inside the app's network. So,
unless local development allows anything (BGOPS_ALLOW_HTTP_CALLBACKS), a URL may not name,
and its host may not resolve to, an address that is not globally routable: loopback, link-local
(169.254.0.0/16 with the cloud metadata endpoints, fe80::/10), private (RFC 1918, fc00::/7 with
fd00:ec2::254), shared (100.64.0.0/10), unspecified, multicast or reserved; an IPv4-mapped IPv6
address is judged by the IPv4 address inside it. IPv4 is read in every notation a resolver
accepts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``). Hosts named in
BGOPS_CALLBACK_ALLOWED_HOSTS (a private ERP, say) are allowed anyway.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

LOCAL_NAMES = ("localhost", ".localhost")  # RFC 6761: always the machine itself


@dataclass(frozen=True)
class OutboundPolicy:
    """Where callbacks may go: anywhere (local development), or public addresses and ``allowed_hosts``."""

    open: bool = False
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    def guards(self, host: str) -> bool:
        """Whether ``host``'s addresses must be checked (not in development, not an allowed host)."""
        return not self.open and host.lower().rstrip(".") not in self.allowed_hosts


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` is written as, in any notation, or None when it is a name."""
    text = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if not text or not all(part for part in text.split(".")) or ":" in text:
        return None
    try:  # decimal, hex, octal and short forms, as inet_aton (and so the resolver) reads them
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True unless the address is globally routable (an IPv4-mapped one judged by its IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def refused_host(host: str) -> bool:
    """True when the host, as written, is an address (or a name) that is never public."""
    lowered = host.lower().rstrip(".")
    if lowered == LOCAL_NAMES[0] or lowered.endswith(LOCAL_NAMES[1]):
        return True
    literal = ip_literal(host)
    return literal is not None and refused(literal)
