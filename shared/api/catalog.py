"""The operations catalog (what Dataverse keeps as Custom API definitions) and the OpenAPI document.

``GET /api/operations`` lists every registered operation; ``GET /api/operations/{name}`` returns one,
with a JSON Schema of its inputs (what a connector's ``x-ms-dynamic-schema`` reads to shape the
action's fields for the chosen operation).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from ..domain.errors import InvalidRequest
from ..operations.registry import Kind, OperationDefinition, Parameter, ParamType
from ..services.container import Services
from . import odata, openapi, urls
from .calls import how_to_call
from .errors import json_response
from .handling import api
from .schemas import status_properties

# JSON Schema of each parameter type (ANY: any JSON value, so no "type").
SCHEMA_OF: dict[ParamType, dict[str, str]] = {
    ParamType.STRING: {"type": "string"},
    ParamType.INT: {"type": "integer", "format": "int64"},
    ParamType.NUMBER: {"type": "number"},
    ParamType.BOOL: {"type": "boolean"},
    ParamType.DATETIME: {"type": "string", "format": "date-time"},
    ParamType.OBJECT: {"type": "object"},
    ParamType.ARRAY: {"type": "array"},
    ParamType.ANY: {},
}


def _parameter(param: Parameter, *, request: bool) -> dict[str, Any]:
    shown = {"name": param.name, "type": param.type.value, "description": param.description}
    return shown | ({"required": param.required} if request else {})


def schema(params: tuple[Parameter, ...], *, open_properties: bool = False) -> dict[str, Any]:
    """A JSON Schema object with one property per parameter."""
    properties = {p.name: {**SCHEMA_OF[p.type], "description": p.description or p.name,
                           "x-ms-summary": p.name} for p in params}
    shaped: dict[str, Any] = {"type": "object", "properties": properties}
    required = [p.name for p in params if p.required]
    if required:
        shaped["required"] = required
    if not open_properties:
        shaped["additionalProperties"] = False
    return shaped


def definition_view(definition: OperationDefinition, prefix: str = "api") -> dict[str, Any]:
    """One operation as the catalog shows it."""
    return {
        "name": definition.name,
        "displayName": definition.display_name,
        "description": definition.description,
        "openInputs": definition.open_inputs,
        "systemJob": definition.system_job,  # callers may not cancel, pause or resume it
        "kind": definition.kind.value,  # Action (POST) or Function (GET)
        "boundTo": definition.bound.entity_set if definition.bound else None,
        "call": how_to_call(definition, f"/{prefix}/data/v9.2" if prefix else "/data/v9.2"),
        "requestParameters": [_parameter(p, request=True) for p in definition.inputs],
        "responseProperties": [_parameter(p, request=False) for p in definition.outputs],
        "inputSchema": schema(definition.inputs, open_properties=definition.open_inputs),
        "outputSchema": schema(definition.outputs, open_properties=True),
        "resultSchema": result_schema(definition),
    }


def result_schema(definition: OperationDefinition) -> dict[str, Any]:
    """The JSON Schema of the status monitor's answer once the operation has finished: its codes, its error if
    it failed, and its outputs (what the connector's action shows as dynamic content)."""
    outputs = schema(definition.outputs, open_properties=True)["properties"]
    return {"type": "object", "properties": {**status_properties(), **outputs}}


@api()
def list_definitions(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET operations: every registered operation, by name; ``kind`` (Action, Function) and ``bound`` (true, false)
    keep those of that form (the connector's list of what POST data/v9.2/{name} takes: kind=Action&bound=false)."""
    odata.check_options(req.params, ())
    kind, bound = req.params.get("kind"), req.params.get("bound")
    if kind not in (None, *(k.value for k in Kind)) or bound not in (None, "true", "false"):
        raise InvalidRequest("kind is Action or Function, and bound true or false (names and values as written).")
    definitions = sorted((d for d in svc.registry.public() if kind in (None, d.kind.value)
                          and bound in (None, str(d.bound is not None).lower())), key=lambda d: d.name.lower())
    return json_response({"value": [definition_view(d, svc.settings.route_prefix) for d in definitions]})


@api()
def get_definition(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET operations/{name}: one operation (404 when no such operation is registered)."""
    odata.check_options(req.params, ())
    return json_response(definition_view(svc.registry.submittable(req.route_params.get("name", "")),
                                         svc.settings.route_prefix))


@api()
def openapi_document(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET openapi.json: the OpenAPI 2.0 document, for the address the caller reached the app at."""
    odata.check_options(req.params, ())
    base = urlsplit(urls.public_base(req, svc.settings))
    return json_response(openapi.document(base.netloc, base.scheme, svc.settings.route_prefix))
