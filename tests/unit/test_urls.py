"""The URLs handed back to callers (shared/api/urls.py): public base, the caller's key, the failure opt-in."""

from __future__ import annotations

import azure.functions as func
import pytest

from shared.api.urls import carried, fail_on_failure, public_base, with_query
from shared.domain.errors import InvalidRequest
from shared.settings import Settings, StorageSettings


def request(url: str = "http://127.0.0.1:7071/api/x", headers: dict | None = None, **params: str):
    return func.HttpRequest("GET", url, headers=headers or {}, params=params, body=b"")


def settings(**values) -> Settings:
    return Settings(storage=StorageSettings(connection_string="UseDevelopmentStorage=true"), **values)


def test_locally_the_base_is_the_request_own():
    assert public_base(request(), settings()) == "http://127.0.0.1:7071"


def test_in_azure_the_base_is_the_platform_host_name_not_a_host_header_a_client_made_up():
    spoofed = request("http://evil.example/api/x", {"X-Forwarded-Proto": "https"})
    assert public_base(spoofed, settings(public_host_name="func-ops.azurewebsites.net")) == \
        "https://func-ops.azurewebsites.net"


def test_behind_a_tls_terminating_front_end_the_scheme_is_https():
    assert public_base(request(headers={"X-Forwarded-Proto": "https"}), settings()) == "https://127.0.0.1:7071"
    assert public_base(request(headers={"x-forwarded-proto": "HTTPS, http"}), settings()) == \
        "https://127.0.0.1:7071"


def test_a_plain_http_request_through_the_front_end_keeps_http_and_nonsense_is_ignored():
    azure = settings(public_host_name="app.azurewebsites.net")
    assert public_base(request(headers={"X-Forwarded-Proto": "http"}), azure) == "http://app.azurewebsites.net"
    assert public_base(request(headers={"X-Forwarded-Proto": "javascript"}), azure) == \
        "https://app.azurewebsites.net"
    assert public_base(request(headers={"X-Forwarded-Proto": "javascript"}), settings()) == "http://127.0.0.1:7071"


def test_an_explicit_base_url_wins_over_everything():
    configured = settings(public_base_url="https://ops.contoso.com", public_host_name="app.azurewebsites.net")
    assert public_base(request(headers={"X-Forwarded-Proto": "http"}), configured) == "https://ops.contoso.com"


def test_a_key_sent_as_code_is_carried_and_one_sent_as_a_header_is_not():
    assert carried(request(code="k3y/+=")) == {"code": "k3y/+="}
    assert carried(request(headers={"x-functions-key": "k3y"})) == {}
    assert with_query("https://a/api/x", {"code": "k3y/+="}) == "https://a/api/x?code=k3y%2F%2B%3D"


@pytest.mark.parametrize("value, expected", [("true", True), ("TRUE", True), ("False", False), ("false", False)])
def test_the_failure_opt_in_is_true_or_false_in_any_case(value, expected):
    req = request(returnInternalServerErrorOnFailure=value)
    assert fail_on_failure(req) is expected
    assert carried(req) == ({"returnInternalServerErrorOnFailure": "true"} if expected else {})


@pytest.mark.parametrize("value", ["yes", "1", "", "tru"])
def test_a_failure_opt_in_that_is_not_a_boolean_is_refused(value):
    with pytest.raises(InvalidRequest, match="returnInternalServerErrorOnFailure must be true or false"):
        carried(request(returnInternalServerErrorOnFailure=value))


def test_with_query_appends_to_an_existing_query_and_leaves_a_url_alone_without_params():
    assert with_query("https://a/x?$top=2", {"code": "k"}) == "https://a/x?$top=2&code=k"
    assert with_query("https://a/x", {}) == "https://a/x"


def test_dollar_options_stay_readable_in_next_links():
    assert with_query("https://a/x", {"$select": "name", "$skiptoken": "id:2"}) == \
        "https://a/x?$select=name&$skiptoken=id%3A2"


def test_a_request_url_whose_host_cannot_be_read_is_a_400_not_a_crash():
    with pytest.raises(InvalidRequest, match="Host header"):
        public_base(request("http://[/api/x"), settings())
