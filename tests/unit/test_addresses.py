"""Callbacks may not be turned against the network they run in: shared/domain/addresses.py."""

from __future__ import annotations

import ipaddress

import pytest

from shared.domain.addresses import OutboundPolicy, embedded_ipv4, ip_literal, refused, refused_host
from shared.domain.callbacks import check_callback_url
from shared.domain.errors import InvalidRequest

NOT_PUBLIC = [
    "127.0.0.1", "127.1", "2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1",  # loopback, in any notation
    "localhost", "LOCALHOST.", "api.localhost",  # RFC 6761 names
    "169.254.169.254", "fd00:ec2::254", "fe80::1",  # link-local, the cloud metadata endpoints
    "10.0.0.1", "172.16.0.1", "192.168.1.1", "fc00::1",  # private
    "100.64.0.1", "0.0.0.0", "0", "::", "::1", "224.0.0.1",  # shared, unspecified, loopback, multicast
    "::ffff:127.0.0.1", "::ffff:a9fe:a9fe",  # IPv4-mapped loopback and metadata
    "::ffff:7f00:1", "0:0:0:0:0:ffff:127.0.0.1", "0x7f.0.0.1", "017700000001", "127.000.000.001",  # more spellings
    "１２７.０.０.１", "ｌｏｃａｌｈｏｓｔ",  # full-width: the resolver is asked for 127.0.0.1 and localhost (IDNA)
]


@pytest.mark.parametrize("host", NOT_PUBLIC)
def test_hosts_that_are_not_public_are_refused_in_any_notation(host):
    assert refused_host(host)


@pytest.mark.parametrize("host", ["example.com", "8.8.8.8", "0x8.0x8.0x8.0x8", "2606:4700:4700::1111",
                                  "1e100.net", "10.example.com"])
def test_public_hosts_and_names_are_not(host):
    assert not refused_host(host)


def test_every_notation_reads_as_the_address_a_resolver_would_use():
    assert {str(ip_literal(h)) for h in ("127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1")} == \
        {"127.0.0.1"}


@pytest.mark.parametrize("host", [h if ":" not in h else f"[{h}]" for h in NOT_PUBLIC if not h.endswith(".")])
def test_a_callback_url_naming_one_is_refused_saying_how_to_allow_it(host):
    with pytest.raises(InvalidRequest, match="BGOPS_CALLBACK_ALLOWED_HOSTS") as refused:
        check_callback_url(f"https://{host}/cb?sig=SECRET", policy=OutboundPolicy())
    assert "SECRET" not in str(refused.value)


PLAIN_REFUSED = [
    "127.0.0.1", "127.1", "2130706433", "0x7f.1", "0177.0.0.1", "::1",  # loopback
    "169.254.169.254", "fe80::1",  # link-local; the first is the metadata endpoint of AWS, Google Cloud and Azure
    "fd00:ec2::254", "168.63.129.16",  # metadata: AWS over IPv6; Azure's wireserver, in a public range
    "10.0.0.1", "172.16.0.1", "192.168.0.1",  # RFC 1918
]
PLAIN_PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700::1111"]
CARRIED_REFUSED = ["127.0.0.1", "169.254.169.254", "168.63.129.16", "10.0.0.1", "172.16.0.1", "192.168.0.1"]
CARRIED_PUBLIC = ["8.8.8.8", "1.1.1.1"]
REFUSED_WHATEVER_THEY_CARRY = {"nat64-local", "6to4", "teredo"}  # ranges not globally reachable themselves


def _carriers(v4: str) -> dict[str, str]:
    """``v4`` in each IPv6 form that delivers to an IPv4 host, encoded here rather than by the code under test."""
    n = int(ipaddress.IPv4Address(v4))
    hex32 = f"{n >> 16:x}:{n & 0xFFFF:x}"
    inverted = f"{(n >> 16) ^ 0xFFFF:x}:{(n & 0xFFFF) ^ 0xFFFF:x}"  # Teredo stores its client's bits flipped
    return {
        "mapped": f"::ffff:{v4}", "mapped-hex": f"::ffff:{hex32}",
        "compatible": f"::{v4}", "compatible-hex": f"::{hex32}",
        "siit": f"::ffff:0:{v4}", "siit-hex": f"::ffff:0:{hex32}",
        "nat64": f"64:ff9b::{v4}", "nat64-hex": f"64:ff9b::{hex32}",
        "nat64-local": f"64:ff9b:1::{v4}",
        "6to4": f"2002:{hex32}::",
        "teredo": f"2001:0:4136:e378:8000:63bf:{inverted}",  # through the server 65.54.227.120
    }


def _every_notation() -> list:
    """(host, refused, the IPv4 address it carries) for each plain notation and each IPv6 carrier."""
    rows = [pytest.param(h, True, None, id=h) for h in PLAIN_REFUSED]
    rows += [pytest.param(h, False, None, id=h) for h in PLAIN_PUBLIC]
    for v4 in CARRIED_REFUSED + CARRIED_PUBLIC:
        for form, host in _carriers(v4).items():
            is_refused = v4 in CARRIED_REFUSED or form in REFUSED_WHATEVER_THEY_CARRY
            carries = None if form == "nat64-local" else v4  # where it sits depends on the local prefix length
            rows.append(pytest.param(host, is_refused, carries, id=f"{form}-{v4}"))
    return rows


@pytest.mark.parametrize("host, is_refused, carries", _every_notation())
def test_each_notation_and_ipv6_carrier_is_judged_by_what_it_reaches_at_submit_and_at_delivery(
        host, is_refused, carries):
    url = f"https://{f'[{host}]' if ':' in host else host}/cb?sig=SECRET"
    if is_refused:
        with pytest.raises(InvalidRequest, match="BGOPS_CALLBACK_ALLOWED_HOSTS"):
            check_callback_url(url, policy=OutboundPolicy())
    else:
        assert check_callback_url(url, policy=OutboundPolicy()) == url
    literal = ip_literal(host)  # at delivery: each address the host resolves to, parsed
    assert refused_host(host) is is_refused and refused(literal) is is_refused
    if carries is not None:
        assert embedded_ipv4(literal) == ipaddress.IPv4Address(carries)


@pytest.mark.parametrize("host", ["127.0.0.1.", "example.com.", "LOCALHOST.", "erp.internal.", "127.0.0.1。"])
@pytest.mark.parametrize("policy", [OutboundPolicy(), OutboundPolicy(open=True),
                                    OutboundPolicy(allowed_hosts=frozenset({"erp.internal"}))])
def test_a_host_name_ending_in_a_dot_is_refused_at_submit_saying_to_drop_it(host, policy):
    with pytest.raises(InvalidRequest, match="drop the trailing dot") as refused_url:
        check_callback_url(f"https://{host}/x?sig=SECRET", policy=policy)
    assert "SECRET" not in str(refused_url.value)


def test_a_callback_url_with_user_info_is_refused():
    with pytest.raises(InvalidRequest, match="user name or password"):
        check_callback_url("https://me:pw@example.com/cb", policy=OutboundPolicy())


def test_an_allowed_host_may_be_private_and_development_allows_anything():
    allowed = OutboundPolicy(allowed_hosts=frozenset({"erp.internal", "10.1.2.3"}))
    assert check_callback_url("https://erp.internal/cb", policy=allowed)
    assert check_callback_url("https://10.1.2.3/cb", policy=allowed)
    with pytest.raises(InvalidRequest):
        check_callback_url("https://10.1.2.4/cb", policy=allowed)
    assert check_callback_url("http://127.0.0.1:7071/cb", policy=OutboundPolicy(open=True))
