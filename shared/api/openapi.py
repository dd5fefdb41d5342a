"""The OpenAPI 2.0 (Swagger) document of the app: what Power Platform custom connectors import.

Built on each request from ``ROUTES`` (one entry per HTTP route and method the app registers; a test
compares the two both ways), the column table of ``views`` and the operations catalog, so it cannot
drift from what the app serves. The action *Perform a background operation* picks the operation from
the catalog (``x-ms-dynamic-values``) and shapes its inputs from that operation's JSON Schema
(``x-ms-dynamic-schema``); its 202 with ``Location`` is the asynchronous pattern the action follows.

It is the server's contract: each route lists every status it can answer, the text the
parsers read is bounded by the patterns of ``grammar`` (and the Prefer syntax of ``prefer``), and
``make test`` runs schemathesis against the app with it (tests/e2e/test_openapi.py). What no schema can
state (a time to come, the chosen operation's inputs, one field needing another) is said in words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..domain import idempotency
from ..domain.subscriptions import EVENT
from ..domain.throughput import WINDOWS
from . import entitydefinitions, grammar, multipart, odata, prefer, systemjobs
from .schemas import NAME_PATTERN, definitions, ref
from .views import KEY, SELECTABLE

TITLE = "Background Operations"
KEY_HEADER, KEY_QUERY = "x-functions-key", "code"


# Each parameter has the name a maker reads (x-ms-summary, title case) and a sentence that adds to it.
def _path(name: str, summary: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "type": "string", "x-ms-summary": summary,
            "description": description, **extra}


def _query(name: str, summary: str, description: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "type": kind, "x-ms-summary": summary,
            "description": description, **extra}


def _option(name: str, summary: str, description: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    """An OData query option: given empty, it is as if not given."""
    return _query(name, summary, description, kind, allowEmptyValue=True, **extra)


def _header(name: str, summary: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "type": "string", "x-ms-summary": summary,
            "description": description, **extra}


def _body(schema: dict[str, Any], summary: str, description: str, required: bool = True) -> dict[str, Any]:
    return {"name": "body", "in": "body", "required": required, "schema": schema, "x-ms-summary": summary,
            "description": description}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "schema": ref("Error")}


OPERATION_ID = _path("id", "Operation ID", "The background operation's unique identifier, a GUID.", format="uuid")
SUBSCRIPTION_ID = _path("id", "Subscription ID", "The subscription's unique identifier, a GUID.", format="uuid")
OPERATION_NAME = _path("name", "Operation", "The operation to run, chosen from those registered.",
                       pattern=NAME_PATTERN, **{
    "x-ms-dynamic-values": {"operationId": "ListOperations", "value-collection": "value",
                            "value-path": "name", "value-title": "displayName",
                            "parameters": {"kind": {"value": "Action"}, "bound": {"value": "false"}}}})
# Spaces at the ends of a field value are no part of it (RFC 9110 §5.5); clients send none before it.
PREFER = {"pattern": grammar.anchored(f"(?:(?:{prefer.SYNTAX})[ \\t]*)?"), "maxLength": prefer.MAX_HEADER_CHARS}
# Optional, as the server takes it; the connector's copy makes it required (connector.definition), so that the
# designer always sends its default and the action runs in the background.
PREFER_ASYNC = _header("Prefer", "Run in the Background",
                       "Always respond-async: it runs in the background; add odata.callback; url=\"https://...\" for a "
                       "callback, wait=N to be answered its outputs if it finishes within N seconds. Without "
                       "respond-async it runs inside the request.",
                       default="respond-async", **PREFER, **{"x-ms-visibility": "internal"})
IDEMPOTENCY_KEY = _header(idempotency.HEADER, "Idempotency Key",
                          "A key of your own, unique to this request (a GUID): sending the request again with it "
                          "answers the operation it first made instead of making another. With respond-async only.",
                          pattern=grammar.anchored(idempotency.SYNTAX), **{"x-ms-visibility": "advanced"})
PREFER_WAIT = _header("Prefer", "Wait", "Send wait=N to be answered once it has finished, the request held up to N "
                                        "seconds (at most 230, and the app's own maximum).", **PREFER,
                      **{"x-ms-visibility": "advanced"})
IF_MATCH = _header("If-Match", "Only If ETag", "Changes it only if its ETag is still this one, 412 otherwise (* for "
                                              "any).", **{"x-ms-visibility": "advanced"})
FAIL_ON_FAILURE = _query("returnInternalServerErrorOnFailure", "Fail the Action on Failure",
                         "When true, a Failed or Canceled operation answers 500, so the action fails.", "boolean",
                         **{"x-ms-visibility": "advanced"})


def _list_parameters(columns: tuple[str, ...], filters: Mapping[str, str], key: str) -> list[dict[str, Any]]:
    """The query options of a list, with the columns of its view."""
    codes = tuple(name for name, logical in filters.items() if logical.endswith(("statecode", "statuscode")))
    return [
        _option("$filter", "Filter Query", f"Comparisons with eq, ne, ge, le, gt or lt of {', '.join(filters)}, "
                                           "joined by and; strings in single quotes, times in UTC with a Z.",
                pattern=grammar.filter_expression(key=key, codes=(codes[0], codes[1]))),
        _select(columns),
        _option("$top", "Top Count", "The most rows to return in all.", "integer", minimum=0, maximum=odata.MAX_TOP),
        _option("$skiptoken", "Skip Token", "Where the next page starts: follow @odata.nextLink rather than set it.",
                pattern=grammar.SKIPTOKEN, **{"x-ms-visibility": "internal"}),
        _header("Prefer", "Page Size", "Pages of N rows with odata.maxpagesize=N, 50 unless asked.", **PREFER,
                **{"x-ms-visibility": "advanced"}),
    ]


def _select(columns: tuple[str, ...]) -> dict[str, Any]:
    return _option("$select", "Select Query", "The columns to return, comma-separated (the key always is).",
                   pattern=grammar.select(columns))


ACCEPTED = {"description": "Accepted: it runs in the background; poll Location until it answers 200.",
            "schema": ref("Accepted"),
            "headers": {"Location": {"type": "string", "description": "The status monitor."},
                        "Retry-After": {"type": "integer", "description": "Seconds to wait before polling."},
                        "traceresponse": {"type": "string", "description": "Its trace: the trace ID and the submit's "
                                                                           "span ID, as traceparent writes them."}}}
# Answers every route of the API can give (the System Jobs page and health aside): a URL the app will not read,
# and no key (the Functions host answers, without a body) or, with App Service Authentication, no principal.
KEYED = {"400": _error("The URL cannot be read: a control character in the path or query, a $ option this "
                       "route does not take or one given twice, or a value its pattern does not allow."),
         "401": {"description": "No function key, or a wrong one (the Functions host answers, without a body); "
                                "with App Service Authentication, no signed-in principal."}}
RETRY = {"Retry-After": {"type": "integer", "description": "Seconds to wait before trying again."}}
STORED = {"503": {**_error("Storage could not be reached. Retry later."), "headers": RETRY}}
BODY_ERRORS = {"413": _error("The body is too large."),
               "415": _error("The body is not JSON in UTF-8 (a byte order mark, or another charset).")}
SUBMIT_ERRORS = {**KEYED, **BODY_ERRORS,
                 "400": _error("Bad input (what the operation's inputs or the message's fields allow; a time that "
                               "has passed; a URL that cannot be called), or a synchronous run whose handler "
                               "failed."),
                 "404": _error("No operation of that name."),
                 "409": {**_error("A request with this Idempotency-Key is still being processed: send it again "
                                  "after Retry-After."), "headers": RETRY},
                 "422": _error("The Idempotency-Key was sent before with a different request."),
                 "503": {**_error("Storage could not be reached; nothing was queued. Retry later."),
                         "headers": RETRY}}
# An operation called in a form it has not: the message names the form (catalog: kind, boundTo, call).
WRONG_FORM = {"405": {**_error("Called with the other method (a GET of an action, a POST of a function); the "
                               "message names the form to use."), "headers": {"Allow": {"type": "string"}}}}
ADMIN = {"403": _error("With App Service Authentication: the caller lacks the admin app role.")}
CHANGE_ERRORS = {**KEYED, **STORED, **BODY_ERRORS, "404": _error("No such operation."),
                 "409": _error("It kept changing while the change was written. Retry."),
                 "412": _error("If-Match does not match.")}


@dataclass(frozen=True)
class Route:
    """One documented route and method: the function's route template, as registered, and what a maker reads of
    it (a summary in sentence case, and a description that says more)."""

    route: str
    method: str
    operation_id: str
    summary: str
    description: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


INTERNAL, ADVANCED = {"x-ms-visibility": "internal"}, {"x-ms-visibility": "advanced"}
# The finished status of the chosen operation, its outputs among its fields: each output is a token in the flow
# designer, with its name and type (GET operations/{name}: resultSchema).
RESULT = {"type": "object", "x-ms-dynamic-schema": {
    "operationId": "GetOperation", "parameters": {"name": {"parameter": "name"}}, "value-path": "resultSchema"},
    "x-ms-dynamic-properties": {"operationId": "GetOperation", "parameters": {"name": {"parameterReference": "name"}},
                                "itemValuePath": "resultSchema"}}


def _submit(route: str, operation_id: str, summary: str, description: str, **extra: Any) -> Route:
    body = _body({"type": "object", "x-ms-dynamic-schema": {
        "operationId": "GetOperation", "parameters": {"name": {"parameter": "name"}}, "value-path": "inputSchema"}},
        "Inputs", "The chosen operation's inputs; none is an empty object.", required=False)
    return Route(route, "post", operation_id, summary, description,
                 [OPERATION_NAME, PREFER_ASYNC, IDEMPOTENCY_KEY, FAIL_ON_FAILURE, body],
                 {"200": {"description": "Finished: the status with the outputs (or, run synchronously, the "
                                         "outputs alone).", "schema": RESULT},
                  "202": ACCEPTED, **SUBMIT_ERRORS, **WRONG_FORM,
                  "429": {**_error("Run synchronously while the instance already runs as many inside requests as "
                                   "it may: retry, or send Prefer: respond-async."), "headers": RETRY}}, extra)


ENTITY_READ = {**KEYED, **STORED, "400": _error("Not an operation id, or an unknown column."),
               "404": _error("No such operation.")}
LIST_READ = {**KEYED, **STORED, "400": _error("An unsupported option or filter.")}
READ_ONLY = {"200": {"description": "The document."}, **KEYED}  # served from memory: no storage, no 404


def _custom_api_calls() -> tuple[Route, ...]:
    """Functions (GET, parameters in the URL) and operations bound to a table's rows, as custom APIs are called;
    the form each operation takes is in the catalog (kind, boundTo, call)."""
    answers = {"200": {"description": "Finished inside the request: its outputs.", "schema": {"type": "object"}},
               "202": ACCEPTED, **SUBMIT_ERRORS, **WRONG_FORM}
    function = _path("name", "Function", "The function, with its parameters in OData function syntax, as "
                                         "name(P1=@p1)?@p1=5 (catalog: call).",
                     pattern=grammar.anchored(f"{grammar.OPERATION_NAME}(?:\\(\\))?"))
    bound = [_path("entityset", "Entity Set", "The entity set of the table it is bound to, such as systemusers.",
                   pattern="^[a-z][a-z0-9_]{0,63}s$"),
             _path("id", "Row ID", "The row it is called on, a GUID.", format="uuid"),
             _path("operation", "Bound Operation", "Microsoft.Dynamics.CRM.<name>, with a function's parameters "
                                                   "as name(P1=@p1).",
                   pattern=grammar.anchored(f"(?:Microsoft\\.Dynamics\\.CRM\\.)?{grammar.OPERATION_NAME}"
                                            "(?:\\(\\))?"))]
    return (
        Route("data/v9.2/{name}", "get", "CallFunction", "Call a function",
              "Calls a function with GET, its parameters in the URL.",
              [function, PREFER_ASYNC, IDEMPOTENCY_KEY, FAIL_ON_FAILURE], answers, INTERNAL),
        Route("data/v9.2/{entityset}({id})/{operation}", "get", "CallBoundFunction", "Call a bound function",
              "Calls a function bound to a table on one of its rows.",
              [*bound, PREFER_ASYNC, IDEMPOTENCY_KEY, FAIL_ON_FAILURE], answers, INTERNAL),
        Route("data/v9.2/{entityset}({id})/{operation}", "post", "CallBoundAction", "Call a bound action",
              "Calls an action bound to a table on one of its rows.",
              [*bound, PREFER_ASYNC, IDEMPOTENCY_KEY, FAIL_ON_FAILURE,
               _body({"type": "object"}, "Inputs", "The action's parameters.", required=False)],
              answers, INTERNAL),
    )


def _entity_definitions() -> tuple[Route, ...]:
    """EntityDefinitions: the two tables' metadata, read-only (what the Web API's own clients read first)."""
    ed = entitydefinitions
    key = _path("key", "Table", "LogicalName='asyncoperation', or the table's MetadataId.", pattern=ed.KEY_PATTERN)
    found = {**KEYED, "404": _error("No such table: this app has backgroundoperation and asyncoperation.")}
    read_only = {**KEYED, "405": {**_error(ed.READ_ONLY), "headers": {"Allow": {"type": "string"}}}}
    table, attributes = "data/v9.2/EntityDefinitions({key})", "data/v9.2/EntityDefinitions({key})/Attributes"
    properties = _option("$select", "Select Query", "The properties to return, comma-separated.",
                         pattern=grammar.select(ed.PROPERTIES))
    attribute_properties = _option("$select", "Select Query", "The properties to return, comma-separated.",
                                   pattern=grammar.select(ed.ATTRIBUTE_PROPERTIES))

    def read(route: str, operation_id: str, summary: str, description: str, parameters: list[dict[str, Any]],
             schema: str, responses: dict[str, Any]) -> Route:
        return Route(route, "get", operation_id, summary, description, parameters,
                     {"200": {"description": "The metadata.", "schema": ref(schema)}, **responses}, INTERNAL)

    def refused(route: str, method: str, operation_id: str) -> Route:
        return Route(route, method, operation_id, "Change a table definition",
                     "Refused with 405: the app's tables are fixed.", [key] if "{key}" in route else [], read_only,
                     INTERNAL)

    return (
        read("data/v9.2/EntityDefinitions", "ListEntityDefinitions", "List the tables",
             "Lists the app's two tables as table definitions.",
             [_option("$filter", "Filter Query", "One comparison with eq, such as LogicalName eq 'asyncoperation'.",
                      pattern=ed.filter_pattern(ed.DEFINITION_FILTERS)), properties],
             "EntityDefinitionList", KEYED),
        read(table, "GetEntityDefinition", "Get a table", "Gets one table's definition.", [key, properties],
             "EntityDefinition", found),
        read(attributes, "ListEntityAttributes", "List the columns of a table", "Lists the columns of one table.",
             [key, _option("$filter", "Filter Query", "One comparison with eq, such as LogicalName eq 'name'.",
                           pattern=ed.filter_pattern(ed.ATTRIBUTE_FILTERS)), attribute_properties],
             "EntityAttributeList", found),
        read(f"{attributes}/{{cast}}", "ListEntityAttributesOfType", "List the columns of a table of one type",
             "Lists the columns of one table that are of one type.",
             [key, _path("cast", "Column Type", "Microsoft.Dynamics.CRM.<Type>AttributeMetadata.",
                         enum=sorted(ed.CASTS)), attribute_properties,
              _option("$expand", "Expand Query", "OptionSet (no column here is a picklist).",
                      pattern=ed.EXPAND_PATTERN)],
             "EntityAttributeList", {**found, "404": _error("No such table or attribute type.")}),
        refused("data/v9.2/EntityDefinitions", "post", "CreateEntityDefinition"),
        *(refused(table, method, f"{verb}EntityDefinition")
          for method, verb in (("patch", "Update"), ("put", "Replace"), ("delete", "Delete"))),
        refused(attributes, "post", "CreateEntityAttribute"),
    )


def _rows() -> tuple[Route, ...]:
    """backgroundoperations: the rows, read, changed and listed (each also at an older path, kept for callers)."""
    aliases: tuple[tuple[str, str, dict[str, Any]], ...] = (
        ("data/v9.2/backgroundoperations({id})", "", {}), ("backgroundoperations/{id}", "Alias", INTERNAL))
    return (
        *(Route(route, "get", f"GetBackgroundOperation{alias}", "Get a background operation",
                "Gets one operation's row, with the columns asked for.", [OPERATION_ID, _select(SELECTABLE)],
                {"200": {"description": "The row.", "schema": ref("BackgroundOperation")}, **ENTITY_READ}, extra)
          for route, alias, extra in aliases),
        *(Route(route, "patch", f"UpdateBackgroundOperation{alias}", "Change the state of an operation",
                "Cancels, pauses, resumes or postpones an operation: one change at a time.",
                [OPERATION_ID, IF_MATCH, _body(ref("BackgroundOperationChange"), "Change",
                                               "The one change asked for.")],
                {"204": {"description": "Changed."}, **CHANGE_ERRORS,
                 "400": _error("Not an operation id, or a change the state table does not allow (now).")}, extra)
          for route, alias, extra in aliases),
        *(Route(route, "get", f"ListBackgroundOperations{alias}", "List background operations",
                "Lists operations newest first, a page at a time, filtered and with the columns asked for.",
                _list_parameters(SELECTABLE, odata.ROW_FILTERS, KEY),
                {"200": {"description": "A page of rows, newest first.", "schema": ref("BackgroundOperationPage")},
                 **LIST_READ}, {"x-ms-pageable": {"nextLinkName": "@odata.nextLink"}, **extra})
          for route, alias, extra in (("data/v9.2/backgroundoperations", "", {}),
                                      ("backgroundoperations", "Alias", INTERNAL))),
    )


def _system_jobs() -> tuple[Route, ...]:
    """asyncoperations: the same rows under the System Job table's names."""
    return (
        Route("data/v9.2/asyncoperations({id})", "get", "GetSystemJob", "Get a system job",
              "Gets one operation's row as a system job, under the System Job table's names.",
              [OPERATION_ID, _select(systemjobs.COLUMNS)],
              {"200": {"description": "The row, as a System Job.", "schema": ref("AsyncOperation")}, **ENTITY_READ},
              ADVANCED),
        Route("data/v9.2/asyncoperations({id})", "patch", "UpdateSystemJob", "Change the state of a system job",
              "Cancels, pauses, resumes or postpones a system job by its statecode, statuscode or postponeuntil.",
              [OPERATION_ID, IF_MATCH, _body(ref("AsyncOperationChange"), "Change", "The one change asked for.")],
              {"204": {"description": "Changed."}, **CHANGE_ERRORS,
               "400": _error("Not an operation id, a read-only attribute, or a change the state table does not "
                             "allow (now).")}, ADVANCED),
        Route("data/v9.2/asyncoperations", "get", "ListSystemJobs", "List system jobs",
              "Lists operations as system jobs, newest first, a page at a time.",
              _list_parameters(systemjobs.COLUMNS, systemjobs.FILTERS, systemjobs.ASYNC_KEY),
              {"200": {"description": "A page of rows, newest first.", "schema": ref("AsyncOperationPage")},
               **LIST_READ}, {"x-ms-pageable": {"nextLinkName": "@odata.nextLink"}, **ADVANCED}),
        *(Route(f"{entity_set}/$count", "get", operation_id, "Count rows",
                "Not implemented (501): Table Storage keeps no count of rows.",
                _list_parameters(columns, filters, key)[:1], {"501": _error(odata.COUNT_NOT_IMPLEMENTED), **KEYED},
                INTERNAL)
          for entity_set, operation_id, columns, filters, key in (
            ("data/v9.2/backgroundoperations", "CountBackgroundOperations", SELECTABLE, odata.ROW_FILTERS, KEY),
            ("data/v9.2/asyncoperations", "CountSystemJobs", systemjobs.COLUMNS, systemjobs.FILTERS,
             systemjobs.ASYNC_KEY))),
    )


def _subscriptions() -> tuple[Route, ...]:
    """The completion trigger's webhook subscriptions."""
    answers = {**KEYED, **STORED, **ADMIN}
    return (
        Route("webhooks/{event}", "post", "WhenABackgroundOperationCompletes", "When a background operation completes",
              "This operation triggers when a background operation succeeds, fails or is canceled.",
              [_path("event", "Event", "The event: OnBackgroundOperationComplete.", enum=[EVENT], default=EVENT,
                     **INTERNAL),
               _body(ref("SubscriptionRequest"), "Subscription", "Where to send each completion, and which.")],
              {"201": {"description": "Subscribed; DELETE the Location to unsubscribe.",
                       "schema": ref("Subscription"),
                       "headers": {"Location": {"type": "string", "description": "The subscription, to DELETE."}}},
               **answers, **BODY_ERRORS,
               "400": _error("A bad URL, filter (an operation no one registered) or event name; nothing was stored."),
               "409": _error("There are BGOPS_MAX_SUBSCRIPTIONS subscriptions already; nothing was stored.")},
              {"x-ms-trigger": "single"}),
        Route("webhooks", "get", "ListSubscriptions", "List event subscriptions",
              "Lists every subscription to completions, their URLs masked.", [],
              {"200": {"description": "Every subscription, URLs masked.", "schema": ref("SubscriptionList")},
               **answers}, INTERNAL),
        Route("webhooks/{id}", "get", "GetSubscription", "Get an event subscription",
              "Gets one subscription to completions, its URL masked.", [SUBSCRIPTION_ID],
              {"200": {"description": "The subscription, its URL masked.", "schema": ref("Subscription")},
               **answers, "404": _error("No such subscription.")}, INTERNAL),
        Route("webhooks/{id}", "delete", "DeleteSubscription", "Unsubscribe",
              "Deletes a subscription: nothing more is sent to it.", [SUBSCRIPTION_ID],
              {"204": {"description": "Unsubscribed."}, **answers, "404": _error("No such subscription.")},
              INTERNAL),
    )


ROUTES: tuple[Route, ...] = (
    _submit("data/v9.2/{name}", "PerformBackgroundOperation", "Perform a background operation",
            "Runs the chosen operation in the background and waits until it has finished, then gives its outputs."),
    _submit("operations/{name}", "PerformBackgroundOperationAlias", "Perform a background operation by its path",
            "Runs the chosen operation as the action does, at the path kept for older callers.", **INTERNAL),
    *_custom_api_calls(),
    Route("ExecuteBackgroundOperation", "post", "ExecuteBackgroundOperation", "Run an operation in the background",
          "Runs an operation in the background as the SDK message does, with a callback, a time to live or a start "
          "time.",
          [IDEMPOTENCY_KEY, PREFER_WAIT, FAIL_ON_FAILURE,
           _body(ref("ExecuteBackgroundOperationRequest"), "Request", "The operation and options.")],
          {"200": {"description": "Finished (what polling Location ends with).", "schema": ref("Status")},
           "202": ACCEPTED, **SUBMIT_ERRORS}, ADVANCED),
    Route("ExecuteAsync", "post", "ExecuteAsync", "Queue an operation as a system job",
          "Queues an operation as a system job, as the ExecuteAsync message does, and answers its job ID.",
          [IDEMPOTENCY_KEY, _body(ref("ExecuteAsyncRequest"), "Request", "The operation, and its line or recurrence.")],
          {"202": {**ACCEPTED, "description": "Queued: its AsyncJobId, and the status monitor in Location.",
                   "schema": ref("ExecuteAsyncResponse")}, **SUBMIT_ERRORS}, ADVANCED),
    Route("ExecuteMultiple", "post", "ExecuteMultiple", "Queue many requests at once",
          "Queues up to 1,000 requests in one call, as the ExecuteMultiple message does.",
          [IDEMPOTENCY_KEY,
           _body(ref("ExecuteMultipleRequest"), "Requests", "The requests, and how to handle refusals.")],
          {"200": {"description": "What became of each request: IsFaulted, and a response or a fault per "
                                  "RequestIndex.", "schema": ref("ExecuteMultipleResponse")},
           **KEYED, **BODY_ERRORS, "400": _error("A body that cannot be read as requests (naming the RequestIndex); "
                                                 "nothing was queued."),
           "503": {**_error("Storage could not be reached and nothing was queued. Retry the whole call."),
                   "headers": RETRY}}, ADVANCED),
    Route("backgroundoperation/{id}", "get", "GetBackgroundOperationStatus", "Get the status of an operation",
          "Gets where an operation stands: 202 while it runs, 200 once it has finished, with its outputs.",
          [OPERATION_ID, PREFER_WAIT, FAIL_ON_FAILURE],
          {"200": {"description": "Finished (Succeeded, Failed or Canceled).", "schema": ref("Status")},
           "202": {**ACCEPTED, "description": "Still running; poll again after Retry-After.",
                   "schema": ref("Status")},
           **KEYED, **STORED, "400": _error("Not an operation id."), "404": _error("No such operation (or purged)."),
           "500": {"description": "Failed or Canceled, with returnInternalServerErrorOnFailure=true.",
                   "schema": ref("Status")}}),
    Route("backgroundoperation/{id}", "delete", "CancelBackgroundOperation", "Cancel an operation",
          "Cancels an operation: at once if it has not started, at its next check if it runs.",
          [OPERATION_ID, IF_MATCH],
          {"200": {"description": "Canceled (3/32) or Canceling (2/22).", "schema": ref("StateCodes")},
           **CHANGE_ERRORS, "400": _error("Not an operation id, or a system job (callers may not cancel it)."),
           "409": _error("It has already finished, or it kept changing while the cancel was written.")}),
    Route("data/v9.2", "get", "GetServiceDocument", "Get the OData service document",
          "Gets the entity sets this app serves, as OData clients read first.", [],
          {**READ_ONLY, "200": {"description": "The entity sets.", "schema": ref("ServiceDocument")}}, INTERNAL),
    Route("data/v9.2/$metadata", "get", "GetMetadata", "Get the OData metadata",
          "Gets the CSDL document that describes the entity sets, their columns and the operations.", [],
          {**READ_ONLY, "200": {"description": "CSDL 4.0 XML.", "schema": {"type": "string"}}},
          {**INTERNAL, "produces": ["application/xml", "application/json"]}),
    Route("data/v9.2/$batch", "post", "ExecuteBatch", "Send many Web API requests in one",
          "Sends many Web API requests in one multipart request, with change sets.",
          [_header("Prefer", "Continue on Error", "With odata.continue-on-error, every request runs, whatever fails.",
                   **PREFER),
           _body({"type": "string", "format": "binary"}, "Batch", "Multipart/mixed: a part per request "
                 "(application/http), change sets as nested parts, at most 1,000 requests.")],
          {"200": {"description": "multipart/mixed: an answer per request run, in order.",
                   "schema": {"type": "string", "format": "binary"}},
           **KEYED, "400": _error("A body that cannot be read as a batch (naming the part); nothing was run."),
           "413": _error(f"More than {multipart.MAX_BATCH_BYTES // 1024 // 1024} MiB."),
           "415": _error("Not multipart/mixed, or not UTF-8.")},
          {**INTERNAL, "consumes": ["multipart/mixed"], "produces": ["multipart/mixed", "application/json"]}),
    *_rows(),
    *_system_jobs(),
    *_entity_definitions(),
    Route("operations", "get", "ListOperations", "List the operations",
          "Lists the operations this app can run, with their parameters.",
          [_query("kind", "Kind", "Only actions (POST) or only functions (GET).", enum=["Action", "Function"]),
           _query("bound", "Bound", "Only operations bound to a table (true) or only unbound ones (false).",
                  enum=["true", "false"])],
          {**READ_ONLY, "200": {"description": "The catalog.", "schema": ref("OperationCatalog")}}, INTERNAL),
    Route("operations/{name}", "get", "GetOperation", "Get an operation",
          "Gets one operation's definition, with the JSON Schema of its inputs, outputs and result.",
          [_path("name", "Operation", "The operation's name.", pattern=NAME_PATTERN)],
          {**READ_ONLY, "200": {"description": "The definition, with the JSON Schema of its inputs.",
                                "schema": ref("OperationDefinition")}, "404": _error("No operation of that name.")},
          INTERNAL),
    *_subscriptions(),
    Route("throughput", "get", "GetThroughput", "Get the throughput",
          "Gets how many operations finished in each interval of the last hour or day, by outcome.",
          [_query("window", "Window", "The last hour (in minutes) or the last day (in half hours); empty, the hour.",
                  enum=list(WINDOWS), allowEmptyValue=True),
           _query("name", "Operation", "Only the operations of this name; empty, every one.", pattern=NAME_PATTERN,
                  allowEmptyValue=True)],
          {"200": {"description": "The intervals, oldest first, and the totals.", "schema": ref("Throughput")},
           **KEYED, **STORED, "400": _error("An unknown window, name or option.")}, INTERNAL),
    Route("openapi.json", "get", "GetOpenApiDocument", "Get this document",
          "Gets the OpenAPI 2.0 document of the app, as connectors import it.", [],
          {**READ_ONLY, "200": {"description": "OpenAPI 2.0.", "schema": {"type": "object"}}}, INTERNAL),
    Route("health", "get", "GetHealth", "Check the health of the app",
          "Checks whether storage can be reached; no key is needed.", [],
          {"200": {"description": "Healthy.", "schema": ref("Health")},
           "503": {"description": "Storage cannot be reached.", "schema": ref("Health")}},
          {**INTERNAL, "security": []}),
)


def _operation(route: Route) -> dict[str, Any]:
    return {"operationId": route.operation_id, "summary": route.summary, "description": route.description,
            "parameters": route.parameters, "responses": route.responses, **route.extra}


def document(host: str, scheme: str, route_prefix: str) -> dict[str, Any]:
    """The OpenAPI 2.0 document for clients that reach the app at ``scheme://host``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(f"/{route.route}", {})[route.method] = _operation(route)
    paths["/webhooks/{event}"]["x-ms-notification-content"] = {
        "description": "A background operation completed.", "schema": ref("CompletionEvent")}
    return {
        "swagger": "2.0",
        "info": {"title": TITLE, "version": "1.0",
                 "description": "Background operations on Azure Functions: submit a named operation, get 202 "
                                "with a status URL at once, and poll it or get a callback when it ends."},
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
        "definitions": definitions(),
    }
