"""Every decoder is bounded: a request URL with a control character or a query option given twice,
a body that is not UTF-8 (415), a callback or notification URL with a control character, and an event
message nested too deep to parse."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
import pytest

from shared.api.errors import response_for
from shared.api.handling import check_request_url, json_body
from shared.domain.addresses import OutboundPolicy
from shared.domain.callbacks import check_callback_url
from shared.domain.errors import InvalidRequest, UnsupportedMediaType
from shared.domain.subscriptions import EVENT
from shared.services.events import notify, subscribe

BASE = "http://127.0.0.1:7071/api/"


def _request(url: str, *, body: bytes = b"", headers: dict[str, str] | None = None,
             route_params: dict[str, str] | None = None) -> func.HttpRequest:
    """A request as the host hands it over: its query decoded into ``params`` (the first of a repeat wins)."""
    params = dict(reversed(parse_qsl(urlsplit(url).query, keep_blank_values=True)))
    return func.HttpRequest("POST" if body else "GET", url, headers=headers or {}, params=params,
                            route_params=route_params or {}, body=body)


# --- The request URL: no control character, each option the app reads once --------------------------------

@pytest.mark.parametrize("query", ["$filter=name eq 'a b'&$top=5&code=k3y%2F%2B%3D", "$select=name",
                                   "code=a&code=a", "x=1&x=2", "$filter=name eq '%2500'", ""])
def test_a_request_with_clean_options_each_given_once_passes(query):
    check_request_url(_request(f"{BASE}backgroundoperations?{query}"))


@pytest.mark.parametrize("query, named", [
    ("$top=1&$top=2", "$top"),
    ("$top=1&%24top=1", "$top"),  # the same name, percent-encoded
    ("$filter=name eq 'a'&$select=name&$filter=name eq 'b'", "$filter"),
    ("returnInternalServerErrorOnFailure=true&returnInternalServerErrorOnFailure=false",
     "returnInternalServerErrorOnFailure"),
])
def test_an_option_given_twice_is_refused_naming_it(query, named):
    with pytest.raises(InvalidRequest, match="given more than once") as info:
        check_request_url(_request(f"{BASE}backgroundoperations?{query}"))
    assert named in str(info.value)


@pytest.mark.parametrize("query", ["$filter=name eq 'a%00'", "$filter=name eq 'a\x00'", "$filter=name%0Aeq 'a'",
                                   "$filter=name eq '%7F'", "$filter=name eq '%C2%85'", "$filter=name eq '\t'"])
def test_a_control_character_in_a_query_option_is_refused_naming_the_option(query):
    with pytest.raises(InvalidRequest, match="The query option \\$filter must not hold control characters"):
        check_request_url(_request(f"{BASE}backgroundoperations?{query}"))


def test_a_control_character_in_the_key_is_refused_without_echoing_the_key():
    with pytest.raises(InvalidRequest, match="The query option code must not hold") as info:
        check_request_url(_request(f"{BASE}backgroundoperations?code=SECRET%00KEY"))
    assert "SECRET" not in str(info.value)


def test_a_control_character_in_an_option_name_is_refused_without_echoing_it():
    with pytest.raises(InvalidRequest, match="A query option's name must not hold"):
        check_request_url(_request(f"{BASE}backgroundoperations?%24fil%00ter=x"))


@pytest.mark.parametrize("path, route_params", [
    ("backgroundoperation/%00", {"id": "\x00"}),
    ("backgroundoperation/a\x00b", {"id": "a\x00b"}),
    ("data/v9.2/sample_Echo%0D%0A", {"name": "sample_Echo\r\n"}),
    ("data/v9.2/sample_Echo", {"name": "sample\x9bEcho"}),  # decoded by the host: the route value alone
])
def test_a_control_character_in_the_path_is_refused(path, route_params):
    with pytest.raises(InvalidRequest, match="The request path must not hold control characters"):
        check_request_url(_request(BASE + path, route_params=route_params))


# --- The body: JSON in UTF-8, nothing else ------------------------------------------------------------------

BODY = '{"Text": "héllo"}'


@pytest.mark.parametrize("content_type", ["", "application/json", "application/json; charset=utf-8",
                                          "application/json;charset=UTF-8", 'application/json; charset="utf-8"',
                                          "application/json; charset=utf8"])
def test_utf8_json_is_read_with_or_without_its_charset(content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    assert json_body(_request(BASE + "x", body=BODY.encode("utf-8"), headers=headers)) == {"Text": "héllo"}


def test_a_nul_written_as_an_escape_is_json_and_is_read():
    assert json_body(_request(BASE + "x", body=b'{"A": "\\u0000"}')) == {"A": "\x00"}


def test_a_raw_nul_byte_inside_utf8_json_is_not_json_400_not_415():
    with pytest.raises(InvalidRequest, match="not valid JSON") as info:
        json_body(_request(BASE + "x", body=b'{"A": "a\x00b"}'))
    assert not isinstance(info.value, UnsupportedMediaType)


@pytest.mark.parametrize("body, words", [
    (BODY.encode("utf-16"), "UTF-16 byte order mark"),  # Python writes the BOM first
    (BODY.encode("utf-16-le"), "looks like UTF-16 or UTF-32"),
    (BODY.encode("utf-16-be"), "looks like UTF-16 or UTF-32"),
    (("  " + BODY).encode("utf-16-le"), "looks like UTF-16 or UTF-32"),
    (BODY.encode("utf-32"), "UTF-32 byte order mark"),
    (BODY.encode("utf-32-be"), "looks like UTF-16 or UTF-32"),
    (BODY.encode("utf-8-sig"), "UTF-8 byte order mark"),
    (BODY.encode("latin-1"), "not UTF-8 \\(Latin-1"),
])
def test_a_body_in_utf16_utf32_latin1_or_with_a_byte_order_mark_is_415_naming_utf8(body, words):
    with pytest.raises(UnsupportedMediaType, match=words) as info:
        json_body(_request(BASE + "x", body=body))
    assert "send JSON in UTF-8" in str(info.value)
    assert response_for(info.value).status_code == 415


@pytest.mark.parametrize("charset", ["utf-16", "UTF-16LE", "iso-8859-1", '"windows-1252"', "us-ascii"])
def test_a_content_type_naming_another_charset_is_415_even_for_a_body_that_would_read(charset):
    headers = {"Content-Type": f"application/json; charset={charset}"}
    with pytest.raises(UnsupportedMediaType, match="charset other than UTF-8") as info:
        json_body(_request(BASE + "x", body=b'{"A": 1}', headers=headers))
    assert charset.strip('"').lower() in str(info.value)


# --- Callback and notification URLs ------------------------------------------------------------------------

OPEN = OutboundPolicy(open=True)


@pytest.mark.parametrize("url", ["https://example.com/cb?sig=SECRET\x00", "https://example.com/cb?sig=SECRET%00",
                                 "https://example.com/c\x00b?sig=SECRET", "https://example.com/cb?sig=SECRET%0d%0aX: 1",
                                 "https://example.com/cb?sig=SECRET\x7f", "https://example.com/cb?sig=SEC\x85RET",
                                 "https://example.com/cb?sig=SECRET%C2%9B", "https://exa\x00mple.com/cb?sig=SECRET"])
def test_a_callback_url_with_a_control_character_is_refused_without_echoing_it(url):
    with pytest.raises(InvalidRequest, match="must not hold control characters") as info:
        check_callback_url(url, policy=OPEN)
    assert "SECRET" not in str(info.value) and "example" not in str(info.value)


def test_a_percent_sign_written_as_percent_25_is_not_mistaken_for_a_control_character():
    url = "https://example.com/cb?sig=a%2Bb%3D&note=%2500"
    assert check_callback_url(url, policy=OPEN) == url


def test_a_notification_url_with_a_nul_is_refused_and_nothing_is_stored(memory_svc):
    with pytest.raises(InvalidRequest, match="NotificationUrl must not hold control characters"):
        subscribe(memory_svc, EVENT, {"NotificationUrl": "https://example.com/hook\x00"}, datetime.now(UTC))
    assert memory_svc.subscriptions.list() == []


# --- The events queue ------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", ['{"subscription": ' + "[" * 100_000 + "]" * 100_000 + "}", "[" * 100_000,
                                  json.dumps({"subscription": "not-a-guid", "event": {}}),
                                  json.dumps({"drain": "not-a-guid"}),
                                  json.dumps({"drain": "0d1f6a0e-6f8e-4c1b-9d1e-1a2b3c4d5e6f", "after": "k" * 201}),
                                  json.dumps({"drain": "0d1f6a0e-6f8e-4c1b-9d1e-1a2b3c4d5e6f", "after": 7})])
def test_an_event_message_nested_too_deep_is_dropped_with_a_warning_not_raised(memory_svc, caplog, body):
    with caplog.at_level(logging.WARNING):
        notify(memory_svc, body)
    assert [r.getMessage() for r in caplog.records] == ["Dropped an events-queue message that is not an event."]
