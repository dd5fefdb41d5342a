"""Callbacks may not be turned against the network they run in (issue 9): shared/domain/addresses.py."""

from __future__ import annotations

import pytest

from shared.domain.addresses import OutboundPolicy, ip_literal, refused_host
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


@pytest.mark.parametrize("host", [h if ":" not in h else f"[{h}]" for h in NOT_PUBLIC])
def test_a_callback_url_naming_one_is_refused_saying_how_to_allow_it(host):
    with pytest.raises(InvalidRequest, match="BGOPS_CALLBACK_ALLOWED_HOSTS") as refused:
        check_callback_url(f"https://{host}/cb?sig=SECRET", policy=OutboundPolicy())
    assert "SECRET" not in str(refused.value)


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
