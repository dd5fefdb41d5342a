"""The OpenAPI document's definitions: the JSON the API reads and answers with (``openapi`` uses them).

Columns and their types come from the views' tables; the patterns that bound text, from ``grammar``.
"""

from __future__ import annotations

from typing import Any

from ..domain.lines import MAX_TOKEN_CHARS
from ..domain.recurrence import MAX_PATTERN_CHARS
from ..services.multiple import MAX_REQUESTS
from ..services.submission import MAX_TTL_SECONDS
from . import grammar, systemjobs
from .changes import STATE_CHANGES
from .views import COLUMN_TYPES, KEY

NULLABLE_COLUMNS = frozenset(COLUMN_TYPES) - {KEY, "name", "backgroundoperationstatecode",
                                              "backgroundoperationstatuscode", "createdon"}
_EDM_SCHEMA = {"Edm.Guid": {"type": "string", "format": "uuid"}, "Edm.String": {"type": "string"},
               "Edm.Int32": {"type": "integer", "format": "int32"},
               "Edm.Double": {"type": "number", "format": "double"},
               "Edm.DateTimeOffset": {"type": "string", "format": "date-time"}}


def ref(name: str) -> dict[str, str]:
    """A reference to one of the definitions."""
    return {"$ref": f"#/definitions/{name}"}


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """A JSON object's schema."""
    return {"type": "object", "properties": properties, **({"required": list(required)} if required else {}),
            **extra}


NAME_PATTERN = grammar.anchored(grammar.OPERATION_NAME)
# Not spaces alone: some character other than those str.strip removes (the parser strips the token).
DEPENDENCY_TOKEN = {"type": "string", "maxLength": MAX_TOKEN_CHARS, "pattern": "\\S", "x-nullable": True,
                    "description": "Runs it one at a time with your other jobs of the same token, in the order "
                                   "submitted."}
TIME = {"type": "string", "format": "date-time", "pattern": grammar.STORABLE_YEAR, "x-nullable": True}
RECURRENCE = {
    "RecurrencePattern": {"type": "string", "maxLength": MAX_PATTERN_CHARS, "pattern": grammar.RECURRENCE,
                          "x-nullable": True, "description": (
        "Runs it again and again: an RRULE of FREQ (MINUTELY to MONTHLY), INTERVAL, BYDAY, BYHOUR, COUNT, "
        "UNTIL, such as FREQ=DAILY;BYHOUR=2. It must occur again after RecurrenceStartTime.")},
    "RecurrenceStartTime": {**TIME, "description": "When the pattern counts from (UTC; default now; not in the "
                                                   "past). Only with a RecurrencePattern."}}
SDK_REQUEST = obj({"RequestName": {"type": "string", "description": "The operation's name."},
                   "Parameters": {"type": "object", "x-nullable": True, "description": "Its inputs."}},
                  ("RequestName",))


def _column(name: str, types: dict[str, str] = COLUMN_TYPES,
            nullable: frozenset[str] = NULLABLE_COLUMNS) -> dict[str, Any]:
    schema = {**_EDM_SCHEMA[types[name]], "x-ms-summary": name}
    return schema | ({"x-nullable": True} if name in nullable else {})


def _change(state: str, status: str) -> dict[str, Any]:
    """A PATCH body: one change, as the state table allows it (changes.STATE_CHANGES) or a postponement."""
    return obj({
        state: {"type": "integer", "format": "int32", "enum": sorted({int(s) for s, _ in STATE_CHANGES}),
                "description": "2 with statuscode 22 cancels (3 with 32 too); 1 pauses; 0 resumes."},
        status: {"type": "integer", "format": "int32",
                 "enum": sorted({int(s) for _, s in STATE_CHANGES if s is not None}),
                 "description": "Alone, it names its state: 22 cancels, 10 or 21 pause, 0 resumes."},
        "postponeuntil": {"type": "string", "format": "date-time", "pattern": grammar.STORABLE_YEAR,
                          "description": "Postpone until then (a time to come; alone)."}},
        minProperties=1, additionalProperties=False)


def definitions() -> dict[str, Any]:
    """Every schema the document's operations refer to."""
    integer, string = {"type": "integer", "format": "int32"}, {"type": "string"}
    codes = {"backgroundOperationStateCode": integer, "backgroundOperationStatusCode": integer}
    status = {"backgroundOperationId": string, "location": string, **codes}
    parameter = obj({"name": string, "type": string, "description": string, "required": {"type": "boolean"}})
    return {
        "Error": obj({"error": obj({"code": string, "message": string})}, ("error",)),
        "EntityDefinition": obj({"@odata.context": string, "MetadataId": {"type": "string", "format": "uuid"},
                                 "LogicalName": string, "SchemaName": string, "EntitySetName": string,
                                 "PrimaryIdAttribute": string, "PrimaryNameAttribute": string,
                                 "LogicalCollectionName": string, "IsCustomEntity": {"type": "boolean"}},
                                ("MetadataId",)),
        "EntityDefinitionList": obj({"@odata.context": string,
                                     "value": {"type": "array", "items": ref("EntityDefinition")}}, ("value",)),
        "EntityAttribute": obj({"MetadataId": {"type": "string", "format": "uuid"}, "LogicalName": string,
                                "SchemaName": string, "AttributeType": string,
                                "AttributeTypeName": obj({"Value": string}), "EntityLogicalName": string,
                                "IsPrimaryId": {"type": "boolean"}, "IsPrimaryName": {"type": "boolean"}},
                               ("MetadataId",)),
        "EntityAttributeList": obj({"@odata.context": string,
                                    "value": {"type": "array", "items": ref("EntityAttribute")}}, ("value",)),
        "Accepted": obj({**status, "BackgroundOperationId": string, "Location": string}, tuple(status)),
        "Status": obj({**status, "backgroundOperationErrorCode": {**integer, "x-nullable": True},
                           "backgroundOperationErrorMessage": {**string, "x-nullable": True},
                           "error": ref("ErrorDetail")}, additionalProperties=True),
        "ErrorDetail": obj({"code": string, "message": string}),
        "StateCodes": obj(codes, tuple(codes)),
        "BackgroundOperation": obj({"@odata.context": string, "@odata.etag": string,
                                        **{c: _column(c) for c in COLUMN_TYPES}}, (KEY,)),
        "BackgroundOperationPage": obj({"@odata.context": string, "@odata.nextLink": string,
                                            "value": {"type": "array", "items": ref("BackgroundOperation")}},
                                           ("value",)),
        "BackgroundOperationChange": _change("backgroundoperationstatecode", "backgroundoperationstatuscode"),
        "AsyncOperation": obj({"@odata.context": string, "@odata.etag": string, **{
            c: _column(c, systemjobs.COLUMN_TYPES, frozenset(systemjobs.COLUMN_TYPES) - set(systemjobs.NOT_NULL))
            for c in systemjobs.COLUMN_TYPES}}, (systemjobs.ASYNC_KEY,)),
        "AsyncOperationPage": obj({"@odata.context": string, "@odata.nextLink": string,
                                       "value": {"type": "array", "items": ref("AsyncOperation")}}, ("value",)),
        "AsyncOperationChange": _change("statecode", "statuscode"),
        "ExecuteBackgroundOperationRequest": obj({
            "Request": SDK_REQUEST,
            "CallbackUri": {**string, "pattern": grammar.HTTPS_URL, "x-nullable": True,
                            "description": "An https URL to POST to when it ends (a public host)."},
            "TtlInSeconds": {"type": "integer", "format": "int32", "minimum": 1, "maximum": MAX_TTL_SECONDS,
                             "x-nullable": True},
            "PostponeUntil": {**TIME, "description": "Not before then (not with a RecurrencePattern)."},
            "DependencyToken": DEPENDENCY_TOKEN, **RECURRENCE}, ("Request",)),
        "ExecuteAsyncRequest": obj({"Request": SDK_REQUEST, "DependencyToken": DEPENDENCY_TOKEN, **RECURRENCE},
                                       ("Request",), additionalProperties=False),
        "ExecuteAsyncResponse": obj({"AsyncJobId": {**string, "format": "uuid"}}, ("AsyncJobId",)),
        "ExecuteMultipleRequest": obj({
            "Requests": {"type": "array", "maxItems": MAX_REQUESTS, "minItems": 1, "items": obj({
                "RequestName": {**string, "pattern": grammar.NOT_EXECUTE_MULTIPLE,
                                "description": "ExecuteAsync, ExecuteBackgroundOperation, or an operation's name "
                                               "(not ExecuteMultiple: they do not nest)."},
                "Parameters": {"type": "object", "x-nullable": True,
                               "description": "That message's body, or the operation's inputs."}},
                ("RequestName",))},
            "Settings": {**obj({"ContinueOnError": {"type": "boolean", "default": False},
                                    "ReturnResponses": {"type": "boolean", "default": False}},
                                   additionalProperties=False), "x-nullable": True}},
            ("Requests",), additionalProperties=False),
        "ExecuteMultipleResponse": obj({
            "IsFaulted": {"type": "boolean"},
            "Responses": {"type": "array", "items": obj({
                "RequestIndex": integer,
                "Response": {"type": "object", "description": "AsyncJobId, or BackgroundOperationId and "
                                                              "Location.", "x-nullable": True},
                "Fault": {**obj({"ErrorCode": string, "Message": string, "StatusCode": integer}),
                          "x-nullable": True}}, ("RequestIndex",))}}, ("IsFaulted", "Responses")),
        "ServiceDocument": obj({"@odata.context": string, "value": {"type": "array", "items": obj(
            {"name": string, "kind": string, "url": string})}}),
        "OperationDefinition": obj({
            "name": string, "displayName": string, "description": string, "openInputs": {"type": "boolean"},
            "kind": {**string, "enum": ["Action", "Function"],
                     "description": "Action: POST, parameters in the body. Function: GET, parameters in the URL."},
            "boundTo": {**string, "x-nullable": True,
                        "description": "The entity set whose rows it is called on; null: called by name."},
            "call": {**string, "description": "How to call it, as GET or POST and a path."},
            "requestParameters": {"type": "array", "items": parameter},
            "responseProperties": {"type": "array", "items": parameter},
            "inputSchema": {"type": "object"}, "outputSchema": {"type": "object"}}, ("name", "inputSchema")),
        "OperationCatalog": obj({"value": {"type": "array", "items": ref("OperationDefinition")}}, ("value",)),
        "Health": obj({"status": string, "reason": string}, ("status",)),
        "SubscriptionRequest": obj({
            "NotificationUrl": {**string, "pattern": grammar.HTTPS_URL,
                                "description": "Where each completion is POSTed (https, a public host).",
                                "x-ms-notification-url": True, "x-ms-visibility": "internal"},
            "Filter": {**obj({"name": {**string, "pattern": NAME_PATTERN, "x-nullable": True,
                                           "description": "Only operations of this (registered) name.",
                                           "x-ms-summary": "Operation", "x-ms-dynamic-values": {
                                               "operationId": "ListOperations", "value-collection": "value",
                                               "value-path": "name", "value-title": "displayName"}}},
                                 additionalProperties=False), "x-nullable": True}},
            ("NotificationUrl",), additionalProperties=False),
        "Subscription": obj({"id": string, "eventName": string,
                                 "notificationUrl": {**string, "description": "Masked: scheme and host only."},
                                 "filter": {**obj({"name": string}), "x-nullable": True},
                                 "createdOn": {"type": "string", "format": "date-time", "x-nullable": True},
                                 "status": {**string, "enum": ["Active", "Paused"],
                                            "description": "Paused: its deliveries kept failing, so nothing is "
                                                           "sent to it until pausedUntil; its events are kept."},
                                 "pausedUntil": {"type": "string", "format": "date-time", "x-nullable": True},
                                 "consecutiveFailures": integer,
                                 "lastError": {**string, "description": "How the last failed delivery ended."}},
                                ("id", "eventName", "status")),
        "SubscriptionList": obj({"value": {"type": "array", "items": ref("Subscription")}}, ("value",)),
        "CompletionEvent": obj({
            "MessageName": string,
            "InputParameters": obj({"PayloadType": integer, "LocationUrl": string,
                                        "BackgroundOperationId": string}),
            "OutputParameters": obj({"BackgroundOperationStateCode": integer,
                                         "BackgroundOperationStatusCode": integer, "OperationName": string})}),
    }
