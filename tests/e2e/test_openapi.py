"""The served OpenAPI 2.0 document: valid, complete, connector-ready, and true to the app."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import requests
from helpers import http_functions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_fuzz import EVENT, EXAMPLES, HOOKS, PHASES, SEED, check_fuzzing, operations
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV2SpecValidator

_operations = operations


@pytest.fixture(scope="module")
def served(app):
    response = requests.get(app.url("openapi.json"), timeout=10)
    assert response.status_code == 200
    return response.json()


PAGE_ROUTES = {"systemjobs", "systemjobs/{file}"}  # the System Jobs page: HTML for people, not the API


def _registered_routes() -> set[tuple[str, str]]:
    """Every (route, method) of an HTTP function the app registers, read from the FunctionApp itself, but
    for the System Jobs page's."""
    return {(f"/{route}", method.lower()) for _, route, methods in http_functions() if route not in PAGE_ROUTES
            for method in methods}


def test_the_document_is_valid_swagger_2(served):
    validate(served, cls=OpenAPIV2SpecValidator)
    assert served["swagger"] == "2.0" and served["basePath"] == "/api"


def test_every_route_the_app_registers_is_documented_and_nothing_else(served):
    assert set(_operations(served)) == _registered_routes()


def test_operation_ids_are_unique_and_every_operation_says_what_it_answers(served):
    operations = list(_operations(served).values())
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert all(op["summary"] and op["responses"] for op in operations)


def test_both_key_forms_are_security_definitions_and_health_needs_none(served):
    assert served["securityDefinitions"]["functionKeyHeader"] == {
        "type": "apiKey", "in": "header", "name": "x-functions-key", "description": "A function key of the app."}
    assert served["securityDefinitions"]["functionKeyQuery"]["name"] == "code"
    assert served["paths"]["/health"]["get"]["security"] == []


def test_the_perform_action_picks_the_operation_from_the_catalog_and_shapes_its_inputs(served):
    action = served["paths"]["/data/v9.2/{name}"]["post"]
    name = next(p for p in action["parameters"] if p["name"] == "name")
    assert name["x-ms-dynamic-values"]["operationId"] == "ListOperations"
    body = next(p for p in action["parameters"] if p["in"] == "body")
    dynamic = body["schema"]["x-ms-dynamic-schema"]
    assert dynamic == {"operationId": "GetOperation", "parameters": {"name": {"parameter": "name"}},
                       "value-path": "inputSchema"}
    assert {"ListOperations", "GetOperation"} <= {op["operationId"] for op in _operations(served).values()}
    assert set(action["responses"]["202"]["headers"]) == {"Location", "Retry-After", "traceresponse"}
    prefer = next(p for p in action["parameters"] if p["name"] == "Prefer")
    assert prefer["default"] == "respond-async" and prefer["x-ms-visibility"] == "internal"


def test_the_completion_trigger_follows_the_webhook_trigger_contract(served):
    path = served["paths"]["/webhooks/{event}"]
    subscribe = path["post"]
    assert subscribe["x-ms-trigger"] == "single"
    assert set(subscribe["responses"]["201"]["headers"]) == {"Location"}
    request = served["definitions"]["SubscriptionRequest"]["properties"]
    assert request["NotificationUrl"]["x-ms-notification-url"] is True
    assert request["Filter"]["properties"]["name"]["x-ms-dynamic-values"]["operationId"] == "ListOperations"
    assert path["x-ms-notification-content"]["schema"] == {"$ref": "#/definitions/CompletionEvent"}
    unsubscribe = served["paths"]["/webhooks/{id}"]["delete"]
    assert unsubscribe["x-ms-visibility"] == "internal" and "204" in unsubscribe["responses"]


def test_the_connector_ships_exactly_the_served_document(served):
    from connector import API_DEFINITION, render

    assert API_DEFINITION.read_text() == render(served)


def test_the_list_is_pageable_by_next_link(served):
    assert served["paths"]["/data/v9.2/backgroundoperations"]["get"]["x-ms-pageable"] == {
        "nextLinkName": "@odata.nextLink"}


def test_host_and_scheme_are_where_the_caller_reached_the_app(app):
    document = requests.get(app.url("openapi.json"), headers={"X-Forwarded-Proto": "https"}, timeout=10).json()
    assert document["host"] == f"127.0.0.1:{app.port}" and document["schemes"] == ["https"]


def test_every_operation_the_catalog_lists_has_a_name_the_document_allows(app, served):
    [name] = served["paths"]["/operations/{name}"]["get"]["parameters"]
    names = [d["name"] for d in requests.get(app.url("operations"), timeout=10).json()["value"]]
    assert names and all(re.fullmatch(name["pattern"], n) for n in names)


def test_a_204_has_neither_a_body_nor_a_content_type(app):
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    op_id = requests.post(app.url("ExecuteBackgroundOperation"), timeout=30, json={
        "Request": {"RequestName": "sample_Echo"}, "PostponeUntil": later}).json()["BackgroundOperationId"]
    sub_id = requests.post(app.url(f"webhooks/{EVENT}"), json={"NotificationUrl": "https://fuzz.invalid/x"},
                           timeout=10).json()["id"]
    changed = requests.patch(app.url(f"backgroundoperations/{op_id}"), json={"backgroundoperationstatecode": 0},
                             timeout=10)  # resumes it
    gone = requests.delete(app.url(f"webhooks/{sub_id}"), timeout=10)
    for response in (changed, gone):
        assert response.status_code == 204 and response.content == b""
        assert "Content-Type" not in response.headers and response.headers["OData-Version"] == "4.0"


def _parameter(document, path: str, method: str, name: str) -> dict:
    return next(p for p in document["paths"][path][method]["parameters"] if p["name"] == name)


def _readers() -> list[tuple[str, str, Callable[[str], object]]]:
    """Each documented pattern, from the document as served, and the parser that reads the value."""
    from shared.api import odata, prefer, systemjobs, views
    from shared.api.openapi import document
    from shared.domain.addresses import OutboundPolicy
    from shared.domain.callbacks import check_callback_url

    served = document("host", "https", "api")
    rows, jobs = "/data/v9.2/backgroundoperations", "/data/v9.2/asyncoperations"
    schemas = served["definitions"]
    return [
        ("Prefer", _parameter(served, rows, "get", "Prefer")["pattern"], prefer.parse_prefer),
        ("$filter of rows", _parameter(served, rows, "get", "$filter")["pattern"], odata.parse_filter),
        ("$filter of system jobs", _parameter(served, jobs, "get", "$filter")["pattern"],
         lambda v: odata.parse_filter(v, columns=systemjobs.FILTERS)),
        ("$select of rows", _parameter(served, rows, "get", "$select")["pattern"],
         lambda v: odata.parse_select(v, views.SELECTABLE)),
        ("$select of system jobs", _parameter(served, jobs, "get", "$select")["pattern"],
         lambda v: odata.parse_select(v, systemjobs.COLUMNS, key=systemjobs.ASYNC_KEY)),
        ("$skiptoken", _parameter(served, rows, "get", "$skiptoken")["pattern"],
         lambda v: odata.parse_paging(None, v, None)),
        ("NotificationUrl", schemas["SubscriptionRequest"]["properties"]["NotificationUrl"]["pattern"],
         lambda v: check_callback_url(v, policy=OutboundPolicy())),
        ("RecurrencePattern", schemas["ExecuteAsyncRequest"]["properties"]["RecurrencePattern"]["pattern"],
         _read_recurrence),
    ]


def _read_recurrence(pattern: str) -> None:
    """Read from before every UNTIL the pattern allows (years 2000 on): that the rule must occur after the
    operation's start is a rule in words, and a pattern read but without an occurrence is refused for that
    (``FREQ=WEEKLY;INTERVAL=1000;BYDAY=MO;UNTIL=20000101T200000Z`` skips to 2018)."""
    from shared.domain.errors import InvalidRequest
    from shared.domain.recurrence import parse_recurrence

    try:
        parse_recurrence(pattern, None, datetime(1999, 1, 1, tzinfo=UTC))
    except InvalidRequest as e:
        if "never occurs" not in str(e):
            raise


READERS = _readers()


@pytest.mark.parametrize("what, pattern, read", READERS, ids=[what for what, _, _ in READERS])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_what_a_documented_pattern_allows_the_server_reads(what, pattern, read, data):
    read(data.draw(st.from_regex(pattern, fullmatch=True), label=what))


@pytest.fixture(scope="module")
def hooks():
    """schemathesis_hooks.py, loaded by its path as st loads it."""
    spec = importlib.util.spec_from_file_location("schemathesis_hooks", HOOKS)
    assert spec and spec.loader
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


@pytest.mark.parametrize("check, status, content, query, rule", [
    ("ST202", 400, _error_body("InvalidRequest", "Ask for one change per PATCH: send ..."), "", "one change per PATCH"),
    ("ST202", 400, _error_body("TransitionNotAllowed", "Cannot pause ..."), "", "the row's state now"),
    ("ST202", 400, _error_body("0x80040265", "sample_Fail was asked to fail."), "", "a synchronous run's outcome"),
    ("ST202", 400, _error_body("InvalidRequest", "$top must be a whole number from 0."), "", None),
    ("ST202", 415, _error_body("UnsupportedMediaType", "Ask for one change per PATCH"), "", None),
    ("ST103", 400, _error_body("InvalidRequest", "Ask for one change per PATCH"), "", None),
    ("ST104", 204, b"", "", "a 204 has no content"),
    ("ST202", 405, _error_body("MethodNotAllowed", "EntityDefinitions is read-only here"), "", "a read-only resource"),
    ("ST202", 405, _error_body("InvalidRequest", "x"), "", None),
    ("ST101", 501, _error_body("NotImplemented", "Counting is not implemented"), "", None),  # not /$count
    ("ST104", 200, b"{}", "", None),
    ("ST101", 500, b'{"backgroundOperationStatusCode": 31}', "returnInternalServerErrorOnFailure=true",
     "an opted-in 500"),
    ("ST101", 500, b'{"backgroundOperationStatusCode": 31}', "", None),
    ("ST101", 500, _error_body("InternalError", "Unexpected."), "returnInternalServerErrorOnFailure=true", None),
])
def test_schemathesis_sets_aside_only_rules_the_document_states_in_words(hooks, check, status, content, query, rule):
    failure = SimpleNamespace(code=check, message="")
    response = SimpleNamespace(status_code=status, content=content,
                               request=SimpleNamespace(url=f"http://127.0.0.1/api/backgroundoperation/x?{query}"))
    assert hooks.unstated_rule(failure, response) == rule


@pytest.mark.parametrize("check, path, code, rule", [
    ("ST101", "data/v9.2/backgroundoperations/$count", "NotImplemented", "a documented 501"),
    ("ST202", "data/v9.2/asyncoperations/$count", "NotImplemented", "a documented 501"),
    ("ST101", "data/v9.2/backgroundoperations/$count", "InternalError", None),
    ("ST101", "data/v9.2/backgroundoperations", "NotImplemented", None),
])
def test_schemathesis_sets_aside_the_501_of_count_alone(hooks, check, path, code, rule):
    response = SimpleNamespace(status_code=501, content=_error_body(code, "Counting is not implemented"),
                               request=SimpleNamespace(url=f"http://127.0.0.1/api/{path}?$filter=name%20eq%20'x'"))
    assert hooks.unstated_rule(SimpleNamespace(code=check, message=""), response) == rule


@pytest.mark.parametrize("path, status, code, rule", [
    ("data/v9.2/$batch", 415, "UnsupportedMediaType", "a batch body, described in words"),
    ("data/v9.2/$batch", 400, "InvalidRequest", "a batch body, described in words"),
    ("data/v9.2/$batch", 500, "InternalError", None),
    ("data/v9.2/sample_Echo", 415, "UnsupportedMediaType", None),
])
def test_schemathesis_sets_aside_a_refused_batch_body_alone(hooks, path, status, code, rule):
    response = SimpleNamespace(status_code=status, content=_error_body(code, "x"),
                               request=SimpleNamespace(url=f"http://127.0.0.1/api/{path}"))
    assert hooks.unstated_rule(SimpleNamespace(code="ST202", message=""), response) == rule


def test_schemathesis_finds_no_disagreement_between_the_document_and_the_server(make_app, tmp_path):
    """The fixed seed, every phase; test_openapi_fresh.py runs a fresh seed beside it (a file of its own, so
    that xdist runs the two at once: each takes a minute or more)."""
    check_fuzzing(make_app, tmp_path, SEED, EXAMPLES, PHASES)
