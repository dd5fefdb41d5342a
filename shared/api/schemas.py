"""The OpenAPI document's definitions: the JSON the API reads and answers with (``openapi`` uses them).

Columns and their types come from the views' tables; the patterns that bound text, from ``grammar``.
"""

from __future__ import annotations

from typing import Any

from ..domain.lines import MAX_TOKEN_CHARS
from ..domain.recurrence import MAX_PATTERN_CHARS
from ..services.multiple import MAX_REQUESTS
from ..services.submission import MAX_TTL_SECONDS
from . import grammar, systemjobs, texts
from .changes import STATE_CHANGES
from .texts import labelled
from .views import COLUMN_TYPES, KEY

NULLABLE_COLUMNS = frozenset(COLUMN_TYPES) - {KEY, "name", "backgroundoperationstatecode",
                                              "backgroundoperationstatuscode", "createdon"}
_EDM_SCHEMA = {"Edm.Guid": {"type": "string", "format": "uuid"}, "Edm.String": {"type": "string"},
               "Edm.Int32": {"type": "integer", "format": "int32"},
               "Edm.Double": {"type": "number", "format": "double"},
               "Edm.DateTimeOffset": {"type": "string", "format": "date-time"}}


# The trigger's outputs as the chosen operation declares them (its Filter's name; GET operations/{name}: outputSchema),
# so that each is a token in the flow designer with its name and type.
EVENT_OUTPUTS = {"type": "object", "x-nullable": True, "x-ms-dynamic-schema": {
    "operationId": "GetOperation", "parameters": {"name": {"parameter": "Filter.name"}}, "value-path": "outputSchema"},
    "x-ms-dynamic-properties": {"operationId": "GetOperation", "parameters": {
        "name": {"parameterReference": "body/Filter/name"}}, "itemValuePath": "outputSchema"}}


def ref(name: str) -> dict[str, str]:
    """A reference to one of the definitions."""
    return {"$ref": f"#/definitions/{name}"}


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """A JSON object's schema."""
    return {"type": "object", "properties": properties, **({"required": list(required)} if required else {}),
            **extra}


NAME_PATTERN = grammar.anchored(grammar.OPERATION_NAME)
INTEGER, STRING, BOOLEAN = {"type": "integer", "format": "int32"}, {"type": "string"}, {"type": "boolean"}
GUID, WHEN = {"type": "string", "format": "uuid"}, {"type": "string", "format": "date-time"}
# Not spaces alone: some character other than those str.strip removes (the parser strips the token).
DEPENDENCY_TOKEN = labelled({"type": "string", "maxLength": MAX_TOKEN_CHARS, "pattern": "\\S", "x-nullable": True},
                            "Dependency Token", "Runs it one at a time with your other jobs of the same token, in "
                                                "the order submitted.")
TIME = {"type": "string", "format": "date-time", "pattern": grammar.STORABLE_YEAR, "x-nullable": True}
RECURRENCE = {
    "RecurrencePattern": labelled(
        {"type": "string", "maxLength": MAX_PATTERN_CHARS, "pattern": grammar.RECURRENCE, "x-nullable": True},
        "Recurrence Pattern", "Runs it again and again: an RRULE of FREQ (MINUTELY to MONTHLY), INTERVAL, BYDAY, "
                              "BYHOUR, COUNT and UNTIL, such as FREQ=DAILY;BYHOUR=2."),
    "RecurrenceStartTime": labelled(TIME, "Recurrence Start Time", "Its first run, in UTC: now unless given, and "
                                                                  "not in the past. Only with a pattern.")}
SDK_REQUEST = labelled(obj({
    "RequestName": labelled(STRING, "Request Name", "The name of the operation to run."),
    "Parameters": labelled({"type": "object", "x-nullable": True}, "Parameters", "The operation's inputs.")},
    ("RequestName",)), "Request", "The operation to run and its inputs.")
ODATA = {"@odata.context": labelled(STRING, "OData Context", "Where the metadata of this answer is described."),
         "@odata.etag": labelled(STRING, "ETag", "The row's version: send it in If-Match to change only this one.")}
NEXT_LINK = {"@odata.nextLink": labelled(STRING, "Next Link", "The next page, when there is one: follow it as is.")}
STATUS = {
    "backgroundOperationId": labelled(STRING, "Operation ID", "The background operation's unique identifier."),
    "location": labelled(STRING, "Status URL", "Where to poll its status."),
    "backgroundOperationStateCode": labelled(INTEGER, "State Code", "0 Ready, 1 Suspended, 2 Locked or 3 Completed."),
    "backgroundOperationStatusCode": labelled(INTEGER, "Status Code", "30 Succeeded, 31 Failed or 32 Canceled when "
                                                                       "it has finished."),
}
OUTCOME_COUNTS = {"succeeded": labelled(INTEGER, "Succeeded", "How many succeeded."),
                  "failed": labelled(INTEGER, "Failed", "How many failed."),
                  "canceled": labelled(INTEGER, "Canceled", "How many were canceled.")}
ERROR = obj({"code": labelled(STRING, "Error Code", "What kind of error, such as InvalidRequest."),
             "message": labelled(STRING, "Error Message", "What went wrong, and what to do about it.")})


def _column(name: str, texts: dict[str, tuple[str, str]], types: dict[str, str],
            nullable: frozenset[str]) -> dict[str, Any]:
    schema = labelled(_EDM_SCHEMA[types[name]], *texts[name])
    return schema | ({"x-nullable": True} if name in nullable else {})


def _change(state: str, status: str) -> dict[str, Any]:
    """A PATCH body: one change, as the state table allows it (changes.STATE_CHANGES) or a postponement."""
    return obj({
        state: labelled({"type": "integer", "format": "int32", "enum": sorted({int(s) for s, _ in STATE_CHANGES})},
                        "State Code", "2 with status code 22 cancels it (3 with 32 too), 1 pauses it and 0 resumes "
                                      "it."),
        status: labelled({"type": "integer", "format": "int32",
                          "enum": sorted({int(s) for _, s in STATE_CHANGES if s is not None})},
                         "Status Code", "Alone, it names its state: 22 cancels, 10 or 21 pause and 0 resumes."),
        "postponeuntil": labelled({"type": "string", "format": "date-time", "pattern": grammar.STORABLE_YEAR},
                                  "Postpone Until", "Postpones it until then, a time to come (sent alone).")},
        minProperties=1, additionalProperties=False)


def _page(item: str) -> dict[str, Any]:
    return obj({"@odata.context": ODATA["@odata.context"], **NEXT_LINK,
                "value": labelled({"type": "array", "items": ref(item)}, "Rows", "The rows of this page.")},
               ("value",))


def status_properties() -> dict[str, Any]:
    """What the status monitor answers for a finished operation, its outputs aside."""
    return {**STATUS,
            "backgroundOperationErrorCode": labelled({**INTEGER, "x-nullable": True}, "Error Code",
                                                     "The failure's error code, when it failed."),
            "backgroundOperationErrorMessage": labelled({**STRING, "x-nullable": True}, "Error Message",
                                                        "The failure's message, when it failed."),
            "error": labelled(ERROR, "Error", "The failure, when the monitor answers 500 for it.")}  # inline: the
    # connector's dynamic schema (operations/{name}: resultSchema) has no definitions to refer to


def definitions() -> dict[str, Any]:
    """Every schema the document's operations refer to."""
    parameter = obj({"name": labelled(STRING, "Name", "The parameter's name."),
                     "type": labelled(STRING, "Type", "Its type: string, int, number, bool, datetime, object, "
                                                      "array or any."),
                     "description": labelled(STRING, "Description", "What it is for."),
                     "required": labelled(BOOLEAN, "Required", "Whether it must be given.")})
    metadata_id = labelled(GUID, "Metadata ID", "The table's or column's unique identifier.")
    logical = labelled(STRING, "Logical Name", "Its name in lower case, as the Web API reads it.")
    schema_name = labelled(STRING, "Schema Name", "Its name as code reads it.")
    return {
        "Error": obj({"error": labelled(ERROR, "Error", "What went wrong.")}, ("error",)),
        "EntityDefinition": obj({
            "@odata.context": ODATA["@odata.context"], "MetadataId": metadata_id, "LogicalName": logical,
            "SchemaName": schema_name,
            "EntitySetName": labelled(STRING, "Entity Set Name", "The table's rows are read under this name."),
            "PrimaryIdAttribute": labelled(STRING, "Primary ID Column", "The column that identifies a row."),
            "PrimaryNameAttribute": labelled(STRING, "Primary Name Column", "The column that names a row."),
            "LogicalCollectionName": labelled(STRING, "Collection Name", "The table's plural name."),
            "IsCustomEntity": labelled(BOOLEAN, "Is Custom Table", "Whether the table was added by someone: "
                                                                   "never here.")}, ("MetadataId",)),
        "EntityDefinitionList": obj({"@odata.context": ODATA["@odata.context"], "value": labelled(
            {"type": "array", "items": ref("EntityDefinition")}, "Tables", "The tables that match.")}, ("value",)),
        "EntityAttribute": obj({
            "MetadataId": metadata_id, "LogicalName": logical, "SchemaName": schema_name,
            "AttributeType": labelled(STRING, "Column Type", "Its type, such as String or DateTime."),
            "AttributeTypeName": labelled(obj({"Value": labelled(STRING, "Type Name", "Its type's full name.")}),
                                          "Column Type Name", "Its type's name, as an object."),
            "EntityLogicalName": labelled(STRING, "Table Name", "The table it belongs to."),
            "IsPrimaryId": labelled(BOOLEAN, "Is Primary ID", "Whether it identifies the row."),
            "IsPrimaryName": labelled(BOOLEAN, "Is Primary Name", "Whether it names the row.")}, ("MetadataId",)),
        "EntityAttributeList": obj({"@odata.context": ODATA["@odata.context"], "value": labelled(
            {"type": "array", "items": ref("EntityAttribute")}, "Columns", "The columns that match.")}, ("value",)),
        # The answer also has BackgroundOperationId and Location, as Dataverse's does (the same values).
        "Accepted": obj(STATUS, tuple(STATUS), additionalProperties=True),
        "Status": obj(status_properties(), additionalProperties=True),
        "ErrorDetail": ERROR,
        "StateCodes": obj({k: STATUS[k] for k in ("backgroundOperationStateCode", "backgroundOperationStatusCode")},
                          ("backgroundOperationStateCode", "backgroundOperationStatusCode")),
        "BackgroundOperation": obj({**ODATA, **{c: _column(c, texts.COLUMNS, COLUMN_TYPES, NULLABLE_COLUMNS)
                                                for c in COLUMN_TYPES}}, (KEY,)),
        "BackgroundOperationPage": _page("BackgroundOperation"),
        "BackgroundOperationChange": _change("backgroundoperationstatecode", "backgroundoperationstatuscode"),
        "AsyncOperation": obj({**ODATA, **{
            c: _column(c, texts.SYSTEM_JOB_COLUMNS, systemjobs.COLUMN_TYPES,
                       frozenset(systemjobs.COLUMN_TYPES) - set(systemjobs.NOT_NULL))
            for c in systemjobs.COLUMN_TYPES}}, (systemjobs.ASYNC_KEY,)),
        "AsyncOperationPage": _page("AsyncOperation"),
        "AsyncOperationChange": _change("statecode", "statuscode"),
        "ExecuteBackgroundOperationRequest": obj({
            "Request": SDK_REQUEST,
            "CallbackUri": labelled({**STRING, "pattern": grammar.HTTPS_URL, "x-nullable": True}, "Callback URL",
                                    "An https URL of a public host to POST to when it ends."),
            "TtlInSeconds": labelled({"type": "integer", "format": "int32", "minimum": 1,
                                      "maximum": MAX_TTL_SECONDS, "x-nullable": True}, "Time to Live",
                                     "Seconds to keep its row once it is created (90 days unless given)."),
            "PostponeUntil": labelled(TIME, "Postpone Until", "Not before then, in UTC (not with a pattern)."),
            "DependencyToken": DEPENDENCY_TOKEN, **RECURRENCE}, ("Request",)),
        "ExecuteAsyncRequest": obj({"Request": SDK_REQUEST, "DependencyToken": DEPENDENCY_TOKEN, **RECURRENCE},
                                   ("Request",), additionalProperties=False),
        "ExecuteAsyncResponse": obj({"AsyncJobId": labelled({**STRING, "format": "uuid"}, "System Job ID",
                                                            "The queued job's unique identifier.")},
                                    ("AsyncJobId",)),
        "ExecuteMultipleRequest": obj({
            "Requests": labelled({"type": "array", "maxItems": MAX_REQUESTS, "minItems": 1, "items": obj({
                "RequestName": labelled({**STRING, "pattern": grammar.NOT_EXECUTE_MULTIPLE}, "Request Name",
                                        "ExecuteAsync, ExecuteBackgroundOperation, or an operation's name (they "
                                        "do not nest)."),
                "Parameters": labelled({"type": "object", "x-nullable": True}, "Parameters",
                                       "That message's body, or the operation's inputs.")},
                ("RequestName",))}, "Requests", "Up to 1,000 requests, queued in order."),
            "Settings": labelled({**obj({
                "ContinueOnError": labelled({"type": "boolean", "default": False}, "Continue on Error",
                                            "Whether to go on past a request that is refused."),
                "ReturnResponses": labelled({"type": "boolean", "default": False}, "Return Responses",
                                            "Whether to answer for every request, not only those refused.")},
                additionalProperties=False), "x-nullable": True}, "Settings", "How to handle refusals.")},
            ("Requests",), additionalProperties=False),
        "ExecuteMultipleResponse": obj({
            "IsFaulted": labelled(BOOLEAN, "Is Faulted", "Whether any request was refused."),
            "Responses": labelled({"type": "array", "items": obj({
                "RequestIndex": labelled(INTEGER, "Request Index", "Which request, counted from 0."),
                "Response": labelled({"type": "object", "x-nullable": True}, "Response",
                                     "AsyncJobId, or BackgroundOperationId and Location."),
                "Fault": labelled({**obj({
                    "ErrorCode": labelled(STRING, "Error Code", "What kind of refusal."),
                    "Message": labelled(STRING, "Message", "Why it was refused."),
                    "StatusCode": labelled(INTEGER, "Status Code", "The HTTP status it would have had alone.")}),
                    "x-nullable": True}, "Fault", "Why it was refused, if it was.")}, ("RequestIndex",))},
                "Responses", "What became of the requests.")}, ("IsFaulted", "Responses")),
        "ServiceDocument": obj({"@odata.context": ODATA["@odata.context"], "value": labelled(
            {"type": "array", "items": obj({"name": labelled(STRING, "Name", "The entity set's name."),
                                            "kind": labelled(STRING, "Kind", "EntitySet."),
                                            "url": labelled(STRING, "URL", "Where its rows are read.")})},
            "Entity Sets", "The tables' entity sets.")}),
        "OperationDefinition": obj({
            "name": labelled(STRING, "Name", "The operation's name, as callers call it."),
            "displayName": labelled(STRING, "Display Name", "Its name as people read it."),
            "description": labelled(STRING, "Description", "What it does."),
            "openInputs": labelled(BOOLEAN, "Open Inputs", "Whether it takes inputs it does not declare."),
            "systemJob": labelled(BOOLEAN, "System Job", "Whether callers may only postpone it, not cancel, "
                                                         "pause or resume it."),
            "kind": labelled({**STRING, "enum": ["Action", "Function"]}, "Kind",
                             "Action: POST, inputs in the body. Function: GET, inputs in the URL."),
            "boundTo": labelled({**STRING, "x-nullable": True}, "Bound To",
                                "The entity set whose rows it is called on, if any."),
            "call": labelled(STRING, "Call", "How to call it: the method and the path."),
            "requestParameters": labelled({"type": "array", "items": parameter}, "Inputs", "Its input "
                                                                                          "parameters."),
            "responseProperties": labelled({"type": "array", "items": parameter}, "Outputs", "Its outputs."),
            "inputSchema": labelled({"type": "object"}, "Input Schema", "The JSON Schema of its inputs."),
            "outputSchema": labelled({"type": "object"}, "Output Schema", "The JSON Schema of its outputs."),
            "resultSchema": labelled({"type": "object"}, "Result Schema",
                                     "The JSON Schema of its status once finished, its outputs included.")},
            ("name", "inputSchema")),
        "OperationCatalog": obj({"value": labelled({"type": "array", "items": ref("OperationDefinition")},
                                                   "Operations", "Every operation this app can run.")},
                                ("value",)),
        "Health": obj({"status": labelled(STRING, "Status", "Either ok or unavailable."),
                       "reason": labelled(STRING, "Reason", "Why storage cannot be reached.")}, ("status",)),
        "SubscriptionRequest": obj({
            "NotificationUrl": labelled({**STRING, "pattern": grammar.HTTPS_URL, "x-ms-notification-url": True,
                                         "x-ms-visibility": "internal"}, "Notification URL",
                                        "Where each completion is POSTed: https, a public host."),
            "Filter": labelled({**obj({"name": labelled({
                **STRING, "pattern": NAME_PATTERN, "x-nullable": True, "x-ms-dynamic-values": {
                    "operationId": "ListOperations", "value-collection": "value", "value-path": "name",
                    "value-title": "displayName"}}, "Operation", "Only operations of this name.")},
                additionalProperties=False), "x-nullable": True}, "Filter", "Which operations to hear of.")},
            ("NotificationUrl",), additionalProperties=False),
        "Subscription": obj({
            "id": labelled(STRING, "Subscription ID", "The subscription's unique identifier."),
            "eventName": labelled(STRING, "Event Name", "OnBackgroundOperationComplete."),
            "notificationUrl": labelled(STRING, "Notification URL", "Masked: its scheme and host only."),
            "filter": labelled({**obj({"name": labelled(STRING, "Operation", "Only operations of this name.")}),
                                "x-nullable": True}, "Filter", "Which operations it hears of."),
            "createdOn": labelled({**WHEN, "x-nullable": True}, "Created On", "When it subscribed, in UTC."),
            "status": labelled({**STRING, "enum": ["Active", "Paused"]}, "Status",
                               "Paused: its deliveries kept failing, so nothing is sent until the pause ends."),
            "pausedUntil": labelled({**WHEN, "x-nullable": True}, "Paused Until", "When its pause ends, in UTC."),
            "consecutiveFailures": labelled(INTEGER, "Consecutive Failures", "Deliveries failed in a row."),
            "lastError": labelled(STRING, "Last Error", "How the last failed delivery ended.")},
            ("id", "eventName", "status")),
        "SubscriptionList": obj({"value": labelled({"type": "array", "items": ref("Subscription")},
                                                   "Subscriptions", "Every subscription, URLs masked.")},
                                ("value",)),
        "Throughput": obj({
            "window": labelled({**STRING, "enum": ["hour", "day"]}, "Window", "The span the chart covers."),
            "intervalSeconds": labelled(INTEGER, "Interval Seconds", "How long each interval is."),
            "from": labelled(WHEN, "From", "When the first interval starts, in UTC."),
            "to": labelled(WHEN, "To", "When the last interval ends, in UTC."),
            "name": labelled({**STRING, "x-nullable": True}, "Operation", "The operation counted, or null for all."),
            "intervals": labelled({"type": "array", "items": obj({
                "start": labelled(WHEN, "Start", "When the interval starts, in UTC."), **OUTCOME_COUNTS})},
                "Intervals", "How many finished in each interval, oldest first."),
            "totals": labelled(obj(OUTCOME_COUNTS), "Totals", "How many finished in the whole window.")},
            ("window", "intervals", "totals")),
        "CompletionEvent": obj({
            "MessageName": labelled(STRING, "Message Name", "OnBackgroundOperationComplete."),
            "InputParameters": labelled(obj({
                "PayloadType": labelled(INTEGER, "Payload Type", "0: this shape."),
                "LocationUrl": labelled(STRING, "Status URL", "Where to read its status and outputs."),
                "BackgroundOperationId": labelled(STRING, "Operation ID", "The operation's unique identifier.")}),
                "Input Parameters", "Which operation completed."),
            "OutputParameters": labelled(obj({
                "BackgroundOperationStateCode": labelled(INTEGER, "State Code", "3, Completed."),
                "BackgroundOperationStatusCode": labelled(INTEGER, "Status Code", "30 Succeeded, 31 Failed or 32 "
                                                                                  "Canceled."),
                "OperationName": labelled(STRING, "Operation Name", "The name of the operation that ran."),
                "Outputs": labelled(EVENT_OUTPUTS, "Outputs", "What it gave back if it succeeded ({} if nothing); "
                                                             "null only if its row was purged before delivery.")}),
                "Output Parameters", "How it ended.")}),
    }
