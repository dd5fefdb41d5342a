"""Callback URLs and the callback body (shared/domain/callbacks.py, SPEC §6)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.addresses import OutboundPolicy
from shared.domain.callbacks import MAX_URL_LENGTH, DeliveryPolicy, check_callback_url, status_body
from shared.domain.errors import InvalidRequest
from shared.domain.states import Status

LOCATION = "https://app.example.com/api/backgroundoperation/x"


@pytest.mark.parametrize("url", [
    "https://example.com/cb",
    "HTTPS://EXAMPLE.COM/cb",
    "https://prod-01.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=a%2Bb&sp=x",
    "https://1.1.1.1:8443/cb",
])
@pytest.mark.parametrize("allow_http", [False, True])
def test_https_urls_are_accepted(url, allow_http):
    assert check_callback_url(url, policy=OutboundPolicy(open=allow_http)) == url


def test_surrounding_whitespace_is_trimmed():
    assert check_callback_url("  https://example.com/cb\n", policy=OutboundPolicy(open=False)) == "https://example.com/cb"


def test_http_is_accepted_only_when_allowed():
    assert check_callback_url("http://localhost:7071/cb", policy=OutboundPolicy(open=True)) == "http://localhost:7071/cb"
    with pytest.raises(InvalidRequest, match="BGOPS_ALLOW_HTTP_CALLBACKS"):
        check_callback_url("http://localhost:7071/cb", policy=OutboundPolicy(open=False))


@pytest.mark.parametrize("url", [
    "/relative/cb?sig=SECRETSIG", "cb?sig=SECRETSIG", "//example.com/cb?sig=SECRETSIG",
    "ftp://example.com/cb?sig=SECRETSIG", "file:///etc/passwd?SECRETSIG", "javascript:alert(1)//SECRETSIG",
    "https:///cb?sig=SECRETSIG", "https://exa mple.com/cb?sig=SECRETSIG", "https://example.com/c b?sig=SECRETSIG",
    "https://example.com/cb?sig=SECRET\tSIG", "https://example.com/cb\n?sig=SECRETSIG",
    "https://example.com/" + "a" * MAX_URL_LENGTH + "?sig=SECRETSIG",
])
@pytest.mark.parametrize("allow_http", [False, True])
def test_unusable_urls_are_refused_without_echoing_the_url(url, allow_http):
    with pytest.raises(InvalidRequest) as info:
        check_callback_url(url, policy=OutboundPolicy(open=allow_http))
    message = str(info.value)
    assert "SECRETSIG" not in message and "example.com" not in message
    assert "callback URL" in message


@pytest.mark.parametrize("value", [None, "", "   ", 42, ["https://example.com"], {"url": "https://x"}])
def test_non_string_or_empty_values_are_refused(value):
    with pytest.raises(InvalidRequest, match="non-empty string"):
        check_callback_url(value, policy=OutboundPolicy(open=True))


def test_a_url_of_exactly_the_maximum_length_is_accepted():
    url = "https://example.com/"
    url += "a" * (MAX_URL_LENGTH - len(url))
    assert len(url) == MAX_URL_LENGTH
    assert check_callback_url(url, policy=OutboundPolicy(open=False)) == url
    with pytest.raises(InvalidRequest, match="longer than"):
        check_callback_url(url + "a", policy=OutboundPolicy(open=False))


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.FAILED], ids=lambda s: s.name)
def test_status_body_has_exactly_the_four_fields_unless_failed(make_op, status):
    op = make_op(status=status, errorcode=-5, errormessage="kept from a retry")
    assert status_body(op, LOCATION) == {
        "location": LOCATION,
        "backgroundOperationId": op.id,
        "backgroundOperationStateCode": status.value // 10,
        "backgroundOperationStatusCode": status.value,
    }


def test_status_body_of_a_failed_operation_adds_the_error_code_and_message(make_op):
    op = make_op(status=Status.FAILED, errorcode=-2147220891, errormessage="boom",
                 callbackurl="https://example.com/cb?sig=SECRET")
    body = status_body(op, LOCATION)
    assert body["backgroundOperationStateCode"] == 3 and body["backgroundOperationStatusCode"] == 31
    assert body["backgroundOperationErrorCode"] == -2147220891
    assert body["backgroundOperationErrorMessage"] == "boom"
    assert "SECRET" not in repr(body)


@pytest.mark.parametrize("base", [0.5, 2.0, 30.0])
def test_a_callback_claim_lapses_after_twice_the_longest_delivery_and_never_under_a_minute(base):
    delivery = DeliveryPolicy(base_seconds=base)  # 4 attempts of 10 s, with pauses of base, 2 x base and 4 x base
    assert [delivery.pause_after(a) for a in (1, 2, 3)] == [base, 2 * base, 4 * base]
    assert delivery.longest_seconds == pytest.approx(40 + 7 * base)
    assert delivery.claim_timeout == timedelta(seconds=max(60.0, 2 * (40 + 7 * base)))
