"""Which network addresses a callback or webhook may reach: the public internet only.

Callbacks and webhooks are URLs a caller chooses, POSTed to from inside the app's network. So,
unless local development allows anything (BGOPS_ALLOW_HTTP_CALLBACKS), a URL may not name, and
its host may not resolve to, an address that is not public. An address is refused when

- its own range is not globally routable: loopback, link-local (169.254.0.0/16, fe80::/10),
  private (RFC 1918, fc00::/7), shared (100.64.0.0/10), unspecified, multicast, reserved, or Teredo
  (2001::/32);
- it is a cloud metadata endpoint (``METADATA``), named because Azure's wireserver 168.63.129.16
  is in a public range yet answers from inside Azure;
- it is an IPv6 form that delivers to an IPv4 host and that IPv4 address is refused: IPv4-mapped
  (::ffff:0:0/96), IPv4-compatible (::/96), SIIT (::ffff:0:0:0/96), NAT64 (64:ff9b::/96) and Teredo
  (its client). ``ipaddress`` calls most of these global whatever they carry;
- it is in NAT64's local-use prefix (64:ff9b:1::/48, RFC 8215: where the IPv4 address sits in it
  depends on the prefix length the local translator was given, which the address does not say) or
  in 6to4 (2002::/16), whatever it carries (``NOT_GLOBAL_ON_EVERY_PYTHON``: older Pythons call
  them global, newer ones do not).

IPv4 is read in every notation a resolver accepts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``,
``127.1``), and a name as the resolver is asked for it (IDNA reads ``１２７.０.０.１`` as 127.0.0.1).
A name ending in a dot is refused when submitted (``callbacks.check_callback_url``): it names the
same host, but unlike the name that BGOPS_CALLBACK_ALLOWED_HOSTS and ``localhost`` are compared with.
Hosts named in BGOPS_CALLBACK_ALLOWED_HOSTS (a private ERP, say) are allowed anyway.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

LOCAL_NAMES = ("localhost", ".localhost")  # RFC 6761: always the machine itself
METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "168.63.129.16"))
# Ranges refused whatever they carry, which only newer Pythons (3.12.4, 3.13) count as non-global: NAT64's
# local-use prefix, and 6to4 (deprecated by RFC 7526; IANA: not globally reachable).
NOT_GLOBAL_ON_EVERY_PYTHON = (ipaddress.IPv6Network("64:ff9b:1::/48"), ipaddress.IPv6Network("2002::/16"))
LAST_32_BITS_CARRIERS = (  # IPv6 ranges whose last 32 bits are the IPv4 address a packet is delivered to
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated, yet Linux's sit0 still tunnels it)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # SIIT (RFC 2765)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix (RFC 6052)
)


@dataclass(frozen=True)
class OutboundPolicy:
    """Where callbacks may go: anywhere (local development), or public addresses and ``allowed_hosts``."""

    open: bool = False
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    def guards(self, host: str) -> bool:
        """Whether ``host``'s addresses must be checked (not in development, not an allowed host)."""
        # Without its trailing dot: a URL stored before such hosts were refused is still delivered to.
        return not self.open and host.lower().rstrip(".") not in self.allowed_hosts


def lookup_name(host: str) -> str:
    """``host`` as the resolver is asked for it: IDNA turns full-width digits, letters and dots into ASCII."""
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:  # no resolver can be asked for it (the submit check says so), so judged as written
        return host.lower()


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


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address packets to ``address`` end up at, when it is an IPv6 form that carries one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client (its bits inverted in the address); the server is not reached
    if any(address in carrier for carrier in LAST_32_BITS_CARRIERS):
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True unless the address is public: its own range, and any IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        if any(address in network for network in NOT_GLOBAL_ON_EVERY_PYTHON) or (
                carried is not None and refused(carried)):
            return True
    return not address.is_global or address.is_multicast or address in METADATA


def refused_host(host: str) -> bool:
    """True when the host, as written, is an address (or a name) that is never public."""
    name = lookup_name(host).rstrip(".")
    if name == LOCAL_NAMES[0] or name.endswith(LOCAL_NAMES[1]):
        return True
    literal = ip_literal(name)
    return literal is not None and refused(literal)
