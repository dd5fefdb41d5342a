"""The served OpenAPI 2.0 document (issue 7): valid, complete, connector-ready, and true to the app."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV2SpecValidator

KEY = "fuzz-key-0123"
METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(document) -> dict[tuple[str, str], dict]:
    return {(path, method): op for path, item in document["paths"].items()
            for method, op in item.items() if method in METHODS}


@pytest.fixture(scope="module")
def served(app):
    response = requests.get(app.url("openapi.json"), timeout=10)
    assert response.status_code == 200
    return response.json()


PAGE_ROUTES = {"systemjobs", "systemjobs/{file}"}  # the System Jobs page: HTML for people, not the API


def _registered_routes() -> set[tuple[str, str]]:
    """Every (route, method) of an HTTP function the app registers, read from the FunctionApp itself, but
    for the System Jobs page's."""
    import function_app  # the repo root is on the test path

    routes = set()
    for function in function_app.app.get_functions():
        trigger = function.get_trigger()
        if trigger.get_binding_name() == "httpTrigger" and trigger.route not in PAGE_ROUTES:
            routes |= {(f"/{trigger.route}", str(getattr(m, "value", m)).lower()) for m in trigger.methods}
    return routes


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
    assert set(action["responses"]["202"]["headers"]) == {"Location", "Retry-After"}
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


def test_schemathesis_finds_no_server_error_and_no_response_off_its_schema(make_app, tmp_path):
    fuzzed = make_app(DEVHOST_FUNCTION_KEY=KEY, BGOPS_ALLOW_HTTP_CALLBACKS="false")
    command = [str(Path(sys.executable).parent / "st"), "run", fuzzed.url("openapi.json"),
               "--checks", "not_a_server_error,response_schema_conformance", "--max-examples", "50",
               "--seed", "1", "--phases", "examples,coverage,fuzzing", "--continue-on-failure",
               "--header", f"x-functions-key: {KEY}", "--no-color"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    print(run.stdout[-3000:])
    cases = re.search(r"(\d+) generated", run.stdout)
    assert run.returncode == 0, run.stdout[-6000:]
    assert cases and int(cases.group(1)) >= 500
    assert KEY not in fuzzed.log()
