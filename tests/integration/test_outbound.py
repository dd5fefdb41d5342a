"""Callbacks and webhooks at delivery: the host is resolved and checked, the connection goes to
the checked address, and redirects are not followed. Against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import socket
from urllib.parse import urlsplit

import pytest
from standardwebhooks.webhooks import Webhook

from shared.domain.addresses import OutboundPolicy
from shared.domain.signing import parse_signing_key
from shared.services.delivery import post_once


def _post(url: str, policy: OutboundPolicy):
    return post_once(url, {"A": 1}, policy=policy, timeout_seconds=5)


def test_a_name_that_resolves_to_a_non_public_address_is_refused_at_delivery_and_not_retried(callbacks):
    url = callbacks.new_url().replace("127.0.0.1", "localhost")  # passed submit as a name; resolves to loopback
    delivery = _post(url, OutboundPolicy())
    assert not delivery.delivered and "OutboundRefused" in delivery.detail and not delivery.retryable
    assert callbacks.calls(urlsplit(url).path) == []  # nothing reached the server


@pytest.mark.parametrize("answer", ["64:ff9b::7f00:1", "::ffff:0:7f00:1", "::127.0.0.1", "2002:7f00:1::"])
def test_a_name_whose_ipv6_address_carries_a_loopback_ipv4_one_is_refused_at_delivery(callbacks, monkeypatch, answer):
    resolve = socket.getaddrinfo

    def dns64(host, port, *args, **kwargs):  # what a DNS64 resolver (or a hostile zone) answers; no local one does
        if host != "carrier.example":
            return resolve(host, port, *args, **kwargs)
        return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (answer, port, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", dns64)
    url = callbacks.new_url().replace("127.0.0.1", "carrier.example")
    delivery = _post(url, OutboundPolicy())
    assert not delivery.delivered and "OutboundRefused" in delivery.detail and not delivery.retryable
    assert callbacks.calls(urlsplit(url).path) == []


def test_an_allowed_host_is_reached_at_the_address_it_resolved_to_with_its_own_host_header(callbacks):
    url = callbacks.new_url().replace("127.0.0.1", "localhost")
    delivery = _post(url, OutboundPolicy(allowed_hosts=frozenset({"localhost"})))
    assert delivery.delivered
    [call] = callbacks.calls(urlsplit(url).path)
    assert call["host"] == url.split("/")[2] and call["body"] == {"A": 1}
    assert call["content_type"] == "application/json"


def test_a_redirect_is_not_followed(callbacks):
    url = callbacks.new_url(answers=(302,))
    delivery = _post(url, OutboundPolicy(open=True))
    assert not delivery.delivered and delivery.detail == "302" and not delivery.retryable
    assert len(callbacks.calls(url)) == 1 and callbacks.calls("/redirected") == []


def test_connection_failures_429_and_5xx_may_do_better_later_and_4xx_may_not(callbacks):
    url = callbacks.new_url(answers=(503, 429, 400))
    assert [(d.delivered, d.detail, d.retryable) for d in (_post(url, OutboundPolicy(open=True)) for _ in range(3))] \
        == [(False, "503", True), (False, "429", True), (False, "400", False)]
    nobody = _post("http://127.0.0.1:9/cb", OutboundPolicy(open=True))  # the discard port: nobody listens
    assert not nobody.delivered and nobody.retryable and nobody.detail == "NewConnectionError"


def test_with_a_signing_key_every_attempt_is_signed_as_one_message_a_receiver_verifies(callbacks):
    secret = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    url = callbacks.new_url(answers=(503,))  # one retry: the same message id, signed again
    attempts = [post_once(url, {"A": 1}, policy=OutboundPolicy(open=True), timeout_seconds=5, message_id="msg_op1",
                          signing_key=parse_signing_key(secret)) for _ in range(2)]
    assert [a.delivered for a in attempts] == [False, True]
    received = callbacks.raw_calls(url)
    assert len(received) == 2 and {headers["webhook-id"] for headers, _ in received} == {"msg_op1"}
    for headers, body in received:
        assert Webhook(secret).verify(body, headers) == {"A": 1}


def test_without_a_signing_key_nothing_is_signed(callbacks):
    url = callbacks.new_url()
    assert _post(url, OutboundPolicy(open=True)).delivered
    [(headers, _)] = callbacks.raw_calls(url)
    assert not {"webhook-id", "webhook-timestamp", "webhook-signature"} & set(headers)
