"""The OpenAPI 2.0 (Swagger) document of the app: what Power Platform custom connectors import.

Built on each request from ``ROUTES`` (one entry per HTTP route and method the app registers; a test
compares the two both ways), the column table of ``views`` and the operations catalog, so it cannot
drift from what the app serves. The action *Perform a background operation* picks the operation from
the catalog (``x-ms-dynamic-values``) and shapes its inputs from that operation's JSON Schema
(``x-ms-dynamic-schema``); its 202 with ``Location`` is the asynchronous pattern the action follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..domain.subscriptions import EVENT
from . import systemjobs
from .views import COLUMN_TYPES, KEY

TITLE = "Background Operations"
KEY_HEADER, KEY_QUERY = "x-functions-key", "code"
NULLABLE_COLUMNS = frozenset(COLUMN_TYPES) - {KEY, "name", "backgroundoperationstatecode",
                                              "backgroundoperationstatuscode", "createdon"}
_EDM_SCHEMA = {"Edm.Guid": {"type": "string", "format": "uuid"}, "Edm.String": {"type": "string"},
               "Edm.Int32": {"type": "integer", "format": "int32"},
               "Edm.Double": {"type": "number", "format": "double"},
               "Edm.DateTimeOffset": {"type": "string", "format": "date-time"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{name}"}


def _path(name: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "type": "string", "description": description, **extra}


def _query(name: str, description: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "type": kind, "description": description, **extra}


def _header(name: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "type": "string", "description": description, **extra}


def _body(schema: dict[str, Any], description: str, required: bool = True) -> dict[str, Any]:
    return {"name": "body", "in": "body", "required": required, "schema": schema, "description": description}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "schema": _ref("Error")}


OPERATION_ID = _path("id", "The background operation's id (a GUID).", format="uuid")
SUBSCRIPTION_ID = _path("id", "The subscription's id (a GUID).", format="uuid")
OPERATION_NAME = _path("name", "The name of a registered operation.", **{
    "x-ms-summary": "Operation",
    "x-ms-dynamic-values": {"operationId": "ListOperations", "value-collection": "value",
                            "value-path": "name", "value-title": "displayName"}})
PREFER_ASYNC = _header("Prefer", "respond-async to run in the background; add odata.callback; url=\"...\" "
                                 "for a callback.", default="respond-async", **{"x-ms-visibility": "internal"})
IF_MATCH = _header("If-Match", "Change it only if its ETag is still this (412 otherwise); * for any.",
                   **{"x-ms-visibility": "advanced"})
FAIL_ON_FAILURE = _query("returnInternalServerErrorOnFailure",
                         "true: a Failed or Canceled operation answers 500, so the action fails.", "boolean",
                         **{"x-ms-visibility": "advanced"})
LIST_PARAMETERS = [
    _query("$filter", "eq, ne, ge, le, gt, lt over backgroundoperationid, backgroundoperationstatecode, "
                      "backgroundoperationstatuscode, name and createdon, joined by 'and'."),
    _query("$select", "Comma-separated columns (the key is always returned)."),
    _query("$top", "The most rows to return in all.", "integer", minimum=0),
    _query("$skiptoken", "Where the next page starts: follow @odata.nextLink rather than setting it.",
           **{"x-ms-visibility": "internal"}),
    _header("Prefer", "odata.maxpagesize=N for pages of N rows (50 unless asked).",
            **{"x-ms-visibility": "advanced"}),
]
ACCEPTED = {"description": "Accepted: it runs in the background; poll Location until it answers 200.",
            "schema": _ref("Accepted"),
            "headers": {"Location": {"type": "string", "description": "The status monitor."},
                        "Retry-After": {"type": "integer", "description": "Seconds to wait before polling."}}}
DEPENDENCY_TOKEN = {"type": "string", "maxLength": 256, "description": "Runs it one at a time with your other jobs of "
                    "the same token, in the order submitted."}
RECURRENCE = {
    "RecurrencePattern": {"type": "string", "maxLength": 256, "description": (
        "Runs it again and again: an RRULE of FREQ (MINUTELY to MONTHLY), INTERVAL, BYDAY, BYHOUR, COUNT, "
        "UNTIL, such as FREQ=DAILY;BYHOUR=2.")},
    "RecurrenceStartTime": {"type": "string", "format": "date-time",
                            "description": "When the pattern counts from (UTC; default now)."}}
SUBMIT_ERRORS = {"400": _error("Bad input, or a synchronous run whose handler failed."),
                 "404": _error("No operation of that name."), "413": _error("The body is too large."),
                 "415": _error("The body is not JSON in UTF-8 (a byte order mark, or another charset)."),
                 "503": _error("Storage could not be reached; nothing was written. Retry later.")}


@dataclass(frozen=True)
class Route:
    """One documented route and method: the function's route template, as registered."""

    route: str
    method: str
    operation_id: str
    summary: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _submit(route: str, operation_id: str, summary: str, **extra: Any) -> Route:
    body = _body({"type": "object", "x-ms-dynamic-schema": {
        "operationId": "GetOperation", "parameters": {"name": {"parameter": "name"}}, "value-path": "inputSchema"}},
        "The operation's input parameters.")
    return Route(route, "post", operation_id, summary, [OPERATION_NAME, PREFER_ASYNC, FAIL_ON_FAILURE, body],
                 {"200": {"description": "Finished: the status with the outputs (or, run synchronously, the "
                                         "outputs alone).", "schema": _ref("Status")},
                  "202": ACCEPTED, **SUBMIT_ERRORS}, extra)


ROUTES: tuple[Route, ...] = (
    _submit("data/v9.2/{name}", "PerformBackgroundOperation", "Perform a background operation",
            description="Runs the chosen operation in the background and waits until it has finished."),
    _submit("operations/{name}", "PerformBackgroundOperationAlias", "Perform a background operation (alias)",
            **{"x-ms-visibility": "internal"}),
    Route("ExecuteBackgroundOperation", "post", "ExecuteBackgroundOperation",
          "Run an operation in the background (the SDK message)",
          [FAIL_ON_FAILURE, _body(_ref("ExecuteBackgroundOperationRequest"), "The request.")],
          {"200": {"description": "Finished.", "schema": _ref("Status")}, "202": ACCEPTED, **SUBMIT_ERRORS},
          {"x-ms-visibility": "advanced"}),
    Route("ExecuteAsync", "post", "ExecuteAsync", "Queue an operation as a system job (ExecuteAsync)",
          [_body(_ref("ExecuteAsyncRequest"), "The request.")],
          {"202": {**ACCEPTED, "description": "Queued: its AsyncJobId, and the status monitor in Location.",
                   "schema": _ref("ExecuteAsyncResponse")}, **SUBMIT_ERRORS},
          {"x-ms-visibility": "advanced"}),
    Route("ExecuteMultiple", "post", "ExecuteMultiple", "Queue up to 1,000 requests at once (ExecuteMultiple)",
          [_body(_ref("ExecuteMultipleRequest"), "The requests and how to handle faults.")],
          {"200": {"description": "What became of each request: IsFaulted, and a response or a fault per "
                                  "RequestIndex.", "schema": _ref("ExecuteMultipleResponse")},
           **SUBMIT_ERRORS},
          {"x-ms-visibility": "advanced"}),
    Route("backgroundoperation/{id}", "get", "GetBackgroundOperationStatus", "Get the status of an operation",
          [OPERATION_ID, FAIL_ON_FAILURE],
          {"200": {"description": "Finished (Succeeded, Failed or Canceled).", "schema": _ref("Status")},
           "202": {**ACCEPTED, "description": "Still running; poll again after Retry-After.",
                   "schema": _ref("Status")},
           "400": _error("Not an operation id."), "404": _error("No such operation (or purged)."),
           "500": {"description": "Failed or Canceled, with returnInternalServerErrorOnFailure=true.",
                   "schema": _ref("Status")}}),
    Route("backgroundoperation/{id}", "delete", "CancelBackgroundOperation", "Cancel an operation",
          [OPERATION_ID, IF_MATCH],
          {"200": {"description": "Canceled (3/32) or Canceling (2/22).", "schema": _ref("StateCodes")},
           "400": _error("Not an operation id."), "404": _error("No such operation."),
           "409": _error("It has already finished."), "412": _error("If-Match does not match.")}),
    Route("data/v9.2", "get", "GetServiceDocument", "The OData service document", [],
          {"200": {"description": "The entity sets.", "schema": _ref("ServiceDocument")}},
          {"x-ms-visibility": "internal"}),
    Route("data/v9.2/$metadata", "get", "GetMetadata", "The OData CSDL metadata document", [],
          {"200": {"description": "CSDL 4.0 XML.", "schema": {"type": "string"}}},
          {"x-ms-visibility": "internal", "produces": ["application/xml"]}),
    *(Route(route, "get", operation_id, "Get a background operation",
            [OPERATION_ID, _query("$select", "Comma-separated columns (the key is always returned).")],
            {"200": {"description": "The row.", "schema": _ref("BackgroundOperation")},
             "400": _error("Not an operation id, or an unknown column."), "404": _error("No such operation.")},
            extra) for route, operation_id, extra in (
        ("data/v9.2/backgroundoperations({id})", "GetBackgroundOperation", {}),
        ("backgroundoperations/{id}", "GetBackgroundOperationAlias", {"x-ms-visibility": "internal"}))),
    *(Route(route, "patch", operation_id, "Cancel, pause, resume or postpone an operation",
            [OPERATION_ID, IF_MATCH, _body(_ref("BackgroundOperationChange"), "The one change asked for.")],
            {"204": {"description": "Changed."}, "400": _error("A change the state table does not allow."),
             "404": _error("No such operation."), "412": _error("If-Match does not match.")},
            extra) for route, operation_id, extra in (
        ("data/v9.2/backgroundoperations({id})", "UpdateBackgroundOperation", {}),
        ("backgroundoperations/{id}", "UpdateBackgroundOperationAlias", {"x-ms-visibility": "internal"}))),
    *(Route(route, "get", operation_id, "List background operations", LIST_PARAMETERS,
            {"200": {"description": "A page of rows, newest first.", "schema": _ref("BackgroundOperationPage")},
             "400": _error("An unsupported option or filter.")},
            {"x-ms-pageable": {"nextLinkName": "@odata.nextLink"}, **extra})
      for route, operation_id, extra in (
        ("data/v9.2/backgroundoperations", "ListBackgroundOperations", {}),
        ("backgroundoperations", "ListBackgroundOperationsAlias", {"x-ms-visibility": "internal"}))),
    Route("data/v9.2/asyncoperations({id})", "get", "GetSystemJob", "Get an operation as a system job",
          [OPERATION_ID, _query("$select", "Comma-separated columns (the key is always returned).")],
          {"200": {"description": "The row, as a System Job.", "schema": _ref("AsyncOperation")},
           "400": _error("Not an operation id, or an unknown column."), "404": _error("No such operation.")},
          {"x-ms-visibility": "advanced"}),
    Route("data/v9.2/asyncoperations({id})", "patch", "UpdateSystemJob",
          "Cancel, pause, resume or postpone a system job",
          [OPERATION_ID, IF_MATCH, _body(_ref("AsyncOperationChange"), "The one change asked for.")],
          {"204": {"description": "Changed."}, "400": _error("A read-only attribute, or a change the state table "
                                                             "does not allow."),
           "404": _error("No such operation."), "412": _error("If-Match does not match.")},
          {"x-ms-visibility": "advanced"}),
    Route("data/v9.2/asyncoperations", "get", "ListSystemJobs", "List operations as system jobs",
          [_query("$filter", "eq, ne, ge, le, gt, lt over asyncoperationid, statecode, statuscode, name and "
                             "createdon, joined by 'and'."), *LIST_PARAMETERS[1:]],
          {"200": {"description": "A page of rows, newest first.", "schema": _ref("AsyncOperationPage")},
           "400": _error("An unsupported option or filter.")},
          {"x-ms-pageable": {"nextLinkName": "@odata.nextLink"}, "x-ms-visibility": "advanced"}),
    Route("operations", "get", "ListOperations", "List the operations this app can run", [],
          {"200": {"description": "The catalog.", "schema": _ref("OperationCatalog")}},
          {"x-ms-visibility": "internal"}),
    Route("operations/{name}", "get", "GetOperation", "Get one operation's definition",
          [_path("name", "The operation's name.")],
          {"200": {"description": "The definition, with the JSON Schema of its inputs.",
                   "schema": _ref("OperationDefinition")}, "404": _error("No operation of that name.")},
          {"x-ms-visibility": "internal"}),
    Route("webhooks/{event}", "post", "WhenABackgroundOperationCompletes", "When a background operation completes",
          [_path("event", "The event.", enum=[EVENT], default=EVENT, **{"x-ms-visibility": "internal"}),
           _body(_ref("SubscriptionRequest"), "Where to send each completion, and which operations.")],
          {"201": {"description": "Subscribed; DELETE the Location to unsubscribe.", "schema": _ref("Subscription"),
                   "headers": {"Location": {"type": "string", "description": "The subscription, to DELETE."}}},
           "400": _error("A bad URL, filter or event name; nothing was stored."),
           "409": _error("There are BGOPS_MAX_SUBSCRIPTIONS subscriptions already; nothing was stored.")},
          {"x-ms-trigger": "single", "description": "Triggers when a background operation succeeds, fails or is "
                                                    "canceled (the OnBackgroundOperationComplete event)."}),
    Route("webhooks", "get", "ListSubscriptions", "List event subscriptions", [],
          {"200": {"description": "Every subscription, URLs masked.", "schema": _ref("SubscriptionList")}},
          {"x-ms-visibility": "internal"}),
    Route("webhooks/{id}", "get", "GetSubscription", "Get an event subscription", [SUBSCRIPTION_ID],
          {"200": {"description": "The subscription, its URL masked.", "schema": _ref("Subscription")},
           "404": _error("No such subscription.")}, {"x-ms-visibility": "internal"}),
    Route("webhooks/{id}", "delete", "DeleteSubscription", "Unsubscribe", [SUBSCRIPTION_ID],
          {"204": {"description": "Unsubscribed."}, "404": _error("No such subscription.")},
          {"x-ms-visibility": "internal"}),
    Route("openapi.json", "get", "GetOpenApiDocument", "This document", [],
          {"200": {"description": "OpenAPI 2.0.", "schema": {"type": "object"}}},
          {"x-ms-visibility": "internal"}),
    Route("health", "get", "GetHealth", "Whether storage can be reached (no key needed)", [],
          {"200": {"description": "Healthy.", "schema": _ref("Health")},
           "503": {"description": "Storage cannot be reached.", "schema": _ref("Health")}},
          {"x-ms-visibility": "internal", "security": []}),
)


def _column(name: str, types: dict[str, str] = COLUMN_TYPES,
            nullable: frozenset[str] = NULLABLE_COLUMNS) -> dict[str, Any]:
    schema = {**_EDM_SCHEMA[types[name]], "x-ms-summary": name}
    return schema | ({"x-nullable": True} if name in nullable else {})


def _object(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, **({"required": list(required)} if required else {}),
            **extra}


def _definitions() -> dict[str, Any]:
    integer, string = {"type": "integer", "format": "int32"}, {"type": "string"}
    codes = {"backgroundOperationStateCode": integer, "backgroundOperationStatusCode": integer}
    status = {"backgroundOperationId": string, "location": string, **codes}
    parameter = _object({"name": string, "type": string, "description": string, "required": {"type": "boolean"}})
    return {
        "Error": _object({"error": _object({"code": string, "message": string})}, ("error",)),
        "Accepted": _object({**status, "BackgroundOperationId": string, "Location": string}, tuple(status)),
        "Status": _object({**status, "backgroundOperationErrorCode": {**integer, "x-nullable": True},
                           "backgroundOperationErrorMessage": {**string, "x-nullable": True},
                           "error": _ref("ErrorDetail")}, additionalProperties=True),
        "ErrorDetail": _object({"code": string, "message": string}),
        "StateCodes": _object(codes, tuple(codes)),
        "BackgroundOperation": _object({"@odata.context": string, "@odata.etag": string,
                                        **{c: _column(c) for c in COLUMN_TYPES}}, (KEY,)),
        "BackgroundOperationPage": _object({"@odata.context": string, "@odata.nextLink": string,
                                            "value": {"type": "array", "items": _ref("BackgroundOperation")}},
                                           ("value",)),
        "BackgroundOperationChange": _object({
            "backgroundoperationstatecode": {**integer, "description": "2 with statuscode 22 cancels; 1 pauses; "
                                                                       "0 resumes."},
            "backgroundoperationstatuscode": integer,
            "postponeuntil": {"type": "string", "format": "date-time", "description": "Postpone until then."}}),
        "AsyncOperation": _object({"@odata.context": string, "@odata.etag": string, **{
            c: _column(c, systemjobs.COLUMN_TYPES, frozenset(systemjobs.COLUMN_TYPES) - set(systemjobs.NOT_NULL))
            for c in systemjobs.COLUMN_TYPES}}, (systemjobs.ASYNC_KEY,)),
        "AsyncOperationPage": _object({"@odata.context": string, "@odata.nextLink": string,
                                       "value": {"type": "array", "items": _ref("AsyncOperation")}}, ("value",)),
        "AsyncOperationChange": _object({
            "statecode": {**integer, "description": "2 with statuscode 22 cancels; 1 pauses; 0 resumes."},
            "statuscode": integer,
            "postponeuntil": {"type": "string", "format": "date-time", "description": "Postpone until then."}}),
        "ExecuteBackgroundOperationRequest": _object({
            "Request": _object({"RequestName": string, "Parameters": {"type": "object"}}, ("RequestName",)),
            "CallbackUri": {**string, "description": "An https URL to POST to when it ends."},
            "TtlInSeconds": {"type": "integer", "format": "int32", "minimum": 1},
            "PostponeUntil": {"type": "string", "format": "date-time"},
            "DependencyToken": DEPENDENCY_TOKEN, **RECURRENCE}, ("Request",)),
        "ExecuteAsyncRequest": _object({
            "Request": _object({"RequestName": string, "Parameters": {"type": "object"}}, ("RequestName",)),
            "DependencyToken": DEPENDENCY_TOKEN, **RECURRENCE}, ("Request",)),
        "ExecuteAsyncResponse": _object({"AsyncJobId": {**string, "format": "uuid"}}, ("AsyncJobId",)),
        "ExecuteMultipleRequest": _object({
            "Requests": {"type": "array", "maxItems": 1000, "minItems": 1, "items": _object({
                "RequestName": {**string, "description": "ExecuteAsync, ExecuteBackgroundOperation, or an "
                                                         "operation's name."},
                "Parameters": {"type": "object", "description": "That message's body, or the operation's "
                                                                "inputs."}}, ("RequestName",))},
            "Settings": _object({"ContinueOnError": {"type": "boolean", "default": False},
                                 "ReturnResponses": {"type": "boolean", "default": False}})}, ("Requests",)),
        "ExecuteMultipleResponse": _object({
            "IsFaulted": {"type": "boolean"},
            "Responses": {"type": "array", "items": _object({
                "RequestIndex": integer,
                "Response": {"type": "object", "description": "AsyncJobId, or BackgroundOperationId and "
                                                              "Location.", "x-nullable": True},
                "Fault": {**_object({"ErrorCode": string, "Message": string, "StatusCode": integer}),
                          "x-nullable": True}}, ("RequestIndex",))}}, ("IsFaulted", "Responses")),
        "ServiceDocument": _object({"@odata.context": string, "value": {"type": "array", "items": _object(
            {"name": string, "kind": string, "url": string})}}),
        "OperationDefinition": _object({
            "name": string, "displayName": string, "description": string, "openInputs": {"type": "boolean"},
            "requestParameters": {"type": "array", "items": parameter},
            "responseProperties": {"type": "array", "items": parameter},
            "inputSchema": {"type": "object"}, "outputSchema": {"type": "object"}}, ("name", "inputSchema")),
        "OperationCatalog": _object({"value": {"type": "array", "items": _ref("OperationDefinition")}}, ("value",)),
        "Health": _object({"status": string, "reason": string}, ("status",)),
        "SubscriptionRequest": _object({
            "NotificationUrl": {**string, "description": "Where each completion is POSTed.",
                                "x-ms-notification-url": True, "x-ms-visibility": "internal"},
            "Filter": _object({"name": {**string, "description": "Only operations of this name.",
                                        "x-ms-summary": "Operation", "x-ms-dynamic-values": {
                                            "operationId": "ListOperations", "value-collection": "value",
                                            "value-path": "name", "value-title": "displayName"}}})},
            ("NotificationUrl",)),
        "Subscription": _object({"id": string, "eventName": string,
                                 "notificationUrl": {**string, "description": "Masked: scheme and host only."},
                                 "filter": {**_object({"name": string}), "x-nullable": True},
                                 "createdOn": {"type": "string", "format": "date-time", "x-nullable": True},
                                 "status": {**string, "enum": ["Active", "Paused"],
                                            "description": "Paused: its deliveries kept failing, so nothing is "
                                                           "sent to it until pausedUntil; its events are kept."},
                                 "pausedUntil": {"type": "string", "format": "date-time", "x-nullable": True},
                                 "consecutiveFailures": integer,
                                 "lastError": {**string, "description": "How the last failed delivery ended."}},
                                ("id", "eventName", "status")),
        "SubscriptionList": _object({"value": {"type": "array", "items": _ref("Subscription")}}, ("value",)),
        "CompletionEvent": _object({
            "MessageName": string,
            "InputParameters": _object({"PayloadType": integer, "LocationUrl": string,
                                        "BackgroundOperationId": string}),
            "OutputParameters": _object({"BackgroundOperationStateCode": integer,
                                         "BackgroundOperationStatusCode": integer, "OperationName": string})}),
    }


def _operation(route: Route) -> dict[str, Any]:
    return {"operationId": route.operation_id, "summary": route.summary, "description": route.summary,
            "parameters": route.parameters, "responses": route.responses, **route.extra}


def document(host: str, scheme: str, route_prefix: str) -> dict[str, Any]:
    """The OpenAPI 2.0 document for clients that reach the app at ``scheme://host``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(f"/{route.route}", {})[route.method] = _operation(route)
    paths["/webhooks/{event}"]["x-ms-notification-content"] = {
        "description": "A background operation completed.", "schema": _ref("CompletionEvent")}
    return {
        "swagger": "2.0",
        "info": {"title": TITLE, "version": "1.0",
                 "description": "Dataverse-style background operations on Azure Functions: submit a named "
                                "operation, get 202 with a status URL, and poll it or get a callback."},
        "host": host,
        "basePath": f"/{route_prefix}" if route_prefix else "/",
        "schemes": [scheme],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "functionKeyHeader": {"type": "apiKey", "in": "header", "name": KEY_HEADER,
                                  "description": "A function key of the app."},
            "functionKeyQuery": {"type": "apiKey", "in": "query", "name": KEY_QUERY,
                                 "description": "A function key of the app, in the URL (kept on Location)."}},
        "security": [{"functionKeyHeader": []}, {"functionKeyQuery": []}],
        "paths": paths,
        "definitions": _definitions(),
    }
