"""``--use-https`` (as ``func start --useHttps``): TLS with a certificate from the machine's own authority, the
URLs the app sees saying https, and a client that never finishes its handshake holding up nobody."""

from __future__ import annotations

import socket

import pytest
import requests


@pytest.fixture(scope="module")
def tls_host(make_host):
    return make_host(args=("--use-https",))


def test_the_host_serves_https_that_a_client_trusting_the_local_authority_reads_and_urls_say_https(tls_host):
    answer = requests.get(f"{tls_host.base}/api/things(7)", verify=str(tls_host.ca), timeout=10)
    assert answer.status_code == 200
    assert answer.json()["url"] == f"https://127.0.0.1:{tls_host.port}/api/things(7)"
    assert f"REQUESTS_CA_BUNDLE={tls_host.ca}" in tls_host.log()
    assert tls_host.ca.with_name("devhost-ca-key.pem").stat().st_mode & 0o777 == 0o600  # the key: this user's only


def test_a_client_that_does_not_trust_the_authority_is_refused_by_its_own_tls_check(tls_host):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tls_host.base}/api/plain", timeout=10)


def test_plain_http_or_a_handshake_never_finished_holds_up_no_other_client(tls_host):
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{tls_host.port}/api/plain", timeout=10)
    with socket.create_connection(("127.0.0.1", tls_host.port), timeout=10):  # connects, never says hello
        answer = requests.get(f"{tls_host.base}/api/plain", verify=str(tls_host.ca), timeout=5)
    assert answer.status_code == 200
    assert tls_host.process.poll() is None
