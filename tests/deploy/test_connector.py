"""The custom connector in connector/: generated from the app's OpenAPI document, never edited apart."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV2SpecValidator

from connector import API_DEFINITION, FOLDER, PLACEHOLDER_HOST, render
from shared.api.openapi import document
from shared.settings import HOST_ROUTE_PREFIX


def test_the_committed_definition_is_what_python_m_connector_writes():
    assert API_DEFINITION.read_text() == render(document(PLACEHOLDER_HOST, "https", HOST_ROUTE_PREFIX)), \
        "connector/apiDefinition.swagger.json is out of date: run python -m connector"


def test_the_definition_is_valid_swagger_with_one_api_key_in_a_header():
    shipped = json.loads(API_DEFINITION.read_text())
    validate(shipped, cls=OpenAPIV2SpecValidator)
    assert shipped["host"] == PLACEHOLDER_HOST and shipped["schemes"] == ["https"]
    assert shipped["securityDefinitions"] == {"functionKeyHeader": {
        "type": "apiKey", "in": "header", "name": "x-functions-key", "description": "A function key of the app."}}


def test_the_connection_asks_for_the_function_key_as_a_secret():
    properties = json.loads((FOLDER / "apiProperties.json").read_text())["properties"]
    key = properties["connectionParameters"]["api_key"]
    assert key["type"] == "securestring" and key["uiDefinition"]["constraints"]["clearText"] is False
    assert re.fullmatch(r"#[0-9A-Fa-f]{6}", properties["iconBrandColor"])


def test_the_icon_is_a_png():
    assert (FOLDER / "icon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_python_m_connector_help_prints_its_usage_and_writes_nothing():
    before = API_DEFINITION.stat().st_mtime_ns
    shown = subprocess.run([sys.executable, "-m", "connector", "--help"], capture_output=True, text=True,
                           cwd=FOLDER.parent, timeout=60)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: python -m connector")
    assert API_DEFINITION.stat().st_mtime_ns == before
