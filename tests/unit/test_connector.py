"""The connector's definition: valid against the Power Platform connector schemas (vendored from
microsoft/PowerPlatformConnectors, connector/schemas/), written to the connector string guidance
(connector/lint.py), and shaped as the flow designer needs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import jsonschema
import jsonschema_specifications
import pytest
from helpers import REPO
from referencing import Registry
from referencing.jsonschema import DRAFT4

from connector import API_DEFINITION, FOLDER, definition, render
from connector.lint import problems
from shared.api.openapi import document

SCHEMAS = FOLDER / "schemas"


def _jsonc(text: str) -> dict:
    """JSON with // comments (outside strings), as the two schema files are written."""
    code = re.sub(r'("(?:\\.|[^"\\])*")|//[^\n]*', lambda m: m[1] or "", text)
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", code))


def _errors(schema_file: str, instance: dict) -> list[str]:
    schema = _jsonc((SCHEMAS / schema_file).read_text())
    draft4 = DRAFT4.create_resource(jsonschema_specifications.REGISTRY["http://json-schema.org/draft-04/schema"]
                                    .contents)
    registry = Registry().with_resources([("http://json-schema.org/draft-04/schema", draft4),
                                          ("http://json-schema.org/draft-04/schema#", draft4)])
    validator = jsonschema.validators.validator_for(schema)(schema, registry=registry)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(instance)]


def test_the_shipped_definition_and_properties_are_valid_against_the_connector_schemas():
    assert _errors("apiDefinition.swagger.schema.json", json.loads(API_DEFINITION.read_text())) == []
    assert _errors("paconn-apiProperties.schema.json", json.loads((FOLDER / "apiProperties.json").read_text())) == []


def test_the_schema_check_is_real_an_unknown_extension_or_visibility_fails_it():
    broken = json.loads(API_DEFINITION.read_text())
    broken["x-ms-nonsense"] = True
    broken["paths"]["/health"]["get"]["x-ms-visibility"] = "hidden"
    assert len(_errors("apiDefinition.swagger.schema.json", broken)) == 2


def _shipped() -> dict:
    return definition(document("x.example.com", "https", "api"))  # a copy: the tests may change it


def test_every_string_of_the_definition_follows_the_connector_string_guidance():
    assert problems(_shipped()) == []


@pytest.mark.parametrize(("change", "says"), [
    (lambda d: d["info"].update(title="Background Operations API"), "info.title"),
    (lambda d: d["info"].update(description="Too short."), "info.description"),
    (lambda d: _op(d).update(summary="Perform a background operation."), "a summary in sentence case"),
    (lambda d: _op(d).update(summary="Perform a background operation (V2)"), "ending with a letter or a digit"),
    (lambda d: _op(d).update(summary="Perform a (V2) background operation"), None),  # parentheses within are fine
    (lambda d: _op(d).update(description=_op(d)["summary"]), "says more than the summary"),
    (lambda d: _op(d)["parameters"][0].update({"x-ms-summary": "operation name"}), "title case"),
    (lambda d: _op(d)["parameters"][0].pop("x-ms-summary"), "an x-ms-summary"),
    (lambda d: _op(d)["parameters"][0].update(description="Operation."), "not the x-ms-summary again"),
    (lambda d: _op(d)["parameters"][1].update(required=False), "internal with a default, so required"),
    (lambda d: d["definitions"]["Accepted"]["properties"].update(BackgroundOperationId={
        "type": "string", "x-ms-summary": "ID", "description": "Again."}), "differ only in case"),
    (lambda d: d["definitions"]["Health"]["properties"]["status"].update(description="ok"), "a description"),
    (lambda d: d["info"].update(description="Runs work for Power Automate flows in the background, at once."),
     "names Power Automate"),
    (lambda d: d["paths"]["/webhooks/{event}"]["post"].update(summary="Background operation completes"),
     "a trigger's summary reads 'When a ...'"),
])
def test_the_lint_finds_each_rule_broken(change, says):
    broken = _shipped()
    change(broken)
    found = problems(broken)
    assert (not found) if says is None else any(says in p for p in found), found


def _op(d: dict) -> dict:
    return d["paths"]["/data/v9.2/{name}"]["post"]


def test_the_action_always_runs_in_the_background_and_its_outputs_are_typed_by_the_chosen_operation():
    action = _op(_shipped())
    [prefer] = [p for p in action["parameters"] if p["name"] == "Prefer"]
    assert (prefer["required"], prefer["x-ms-visibility"], prefer["default"]) == (True, "internal", "respond-async")
    finished = action["responses"]["200"]["schema"]
    assert finished["x-ms-dynamic-schema"] == {"operationId": "GetOperation", "parameters": {
        "name": {"parameter": "name"}}, "value-path": "resultSchema"}
    assert finished["x-ms-dynamic-properties"]["itemValuePath"] == "resultSchema"


def test_the_triggers_outputs_are_typed_by_the_operation_its_filter_names():
    shipped = _shipped()
    trigger = shipped["paths"]["/webhooks/{event}"]
    event = trigger["x-ms-notification-content"]["schema"]["$ref"].rsplit("/", 1)[1]
    outputs = shipped["definitions"][event]["properties"]["OutputParameters"]["properties"]["Outputs"]
    assert outputs["x-ms-dynamic-schema"] == {"operationId": "GetOperation", "parameters": {
        "name": {"parameter": "Filter.name"}}, "value-path": "outputSchema"}
    assert outputs["x-ms-dynamic-properties"]["parameters"] == {"name": {"parameterReference": "body/Filter/name"}}
    [body] = [p for p in trigger["post"]["parameters"] if p["in"] == "body"]
    request = shipped["definitions"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    assert "name" in request["properties"]["Filter"]["properties"]  # what both references name is on the card


def test_python_m_connector_help_prints_help_and_writes_nothing():
    before = API_DEFINITION.stat().st_mtime_ns
    shown = subprocess.run([sys.executable, "-m", "connector", "--help"], cwd=REPO, capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and "usage: python -m connector" in shown.stdout
    assert API_DEFINITION.stat().st_mtime_ns == before


def test_the_shipped_file_is_the_served_document_rendered():
    assert API_DEFINITION.read_text() == render(document("x.example.com", "https", "api"))
