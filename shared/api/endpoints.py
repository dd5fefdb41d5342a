"""Submitting and watching operations (SPEC §3.1, §3.2, §3.4): parse the request, call one service function,
shape the response. The OData resource routes are in ``resources``."""

from __future__ import annotations

import logging
import uuid
from typing import Any, cast

import azure.functions as func

from ..bootstrap import get_services
from ..domain.errors import InvalidRequest, StorageUnavailable
from ..domain.operation import Operation
from ..domain.states import Status
from ..operations.registry import TARGET, Binding, Kind, OperationDefinition
from ..services import control, multiple, submission
from ..services.container import Services
from ..services.locations import status_location
from . import messages, metadata, odata, urls, views
from .calls import Call, check_form, function_inputs, parse_segment
from .errors import json_response
from .handling import api, caller_of, in_http_pool, json_body, operation_id_of
from .prefer import parse_prefer

log = logging.getLogger(__name__)
TRACE_RESPONSE = "traceresponse"


def _polling(svc: Services, op: Operation, carried: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The status monitor URL for this caller, and the headers that tell a client to poll it."""
    location = urls.with_query(status_location(svc.settings, op), carried)
    return location, {"Location": location, "Retry-After": str(svc.settings.retry_after_seconds), **_trace(op)}


def _trace(op: Operation) -> dict[str, str]:
    """The operation's trace, for the caller to find it by (its submit's position, in traceparent's format):
    the Trace Context draft's ``traceresponse``."""
    return {TRACE_RESPONSE: op.traceparent} if op.traceparent else {}


def _accepted(svc: Services, op: Operation, carried: dict[str, str], token: str | None, *, sdk: bool = False
              ) -> func.HttpResponse:
    location, polling = _polling(svc, op, carried)
    entity = f"{metadata.service_root(op.baseurl, svc.settings.route_prefix)}{metadata.ENTITY_SET}({op.id})"
    headers = {**polling, "x-ms-dyn-backgroundoperationid": op.id, "OData-EntityId": entity,
               "Preference-Applied": "respond-async" + (f", {token}" if token else "")}
    body = views.accepted(op, location)
    if sdk:  # ExecuteBackgroundOperation's response property names, too
        body.update(BackgroundOperationId=op.id, Location=location)
    return json_response(body, 202, headers)


@api()
def submit_webapi(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """POST data/v9.2/{name}: an action, in the background with Prefer: respond-async, else synchronously."""
    definition = _called(svc, parse_segment(req.route_params.get("name", "")), "POST", None)
    return _submit(svc, req, definition.name, json_body(req))


@api()
def call_function(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET data/v9.2/{name}: a function, its parameters in the URL (name(P1=@p1)?@p1=value)."""
    odata.check_options(req.params, ())
    call = parse_segment(req.route_params.get("name", ""))
    definition = _called(svc, call, "GET", None)
    return _submit(svc, req, definition.name, function_inputs(call, definition.inputs, req.params))


@api()
def call_bound(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET or POST data/v9.2/{entityset}({id})/{operation}: an operation bound to a table, on one of its rows,
    which it gets as its Target."""
    odata.check_options(req.params, ())
    call = parse_segment(req.route_params.get("operation", ""))
    definition = _called(svc, call, req.method, req.route_params.get("entityset", ""))
    binding = cast(Binding, definition.bound)  # check_form refused an operation that is not bound
    target = binding.target(_row_id(req.route_params.get("id", ""), binding.key))
    inputs = function_inputs(call, definition.inputs, req.params) if definition.kind is Kind.FUNCTION \
        else json_body(req)
    if TARGET in inputs:
        raise InvalidRequest(f"'{TARGET}' is the row in the URL; leave it out of the parameters.")
    return _submit(svc, req, definition.name, {**inputs, TARGET: target})


def _called(svc: Services, call: Call, method: str, entity_set: str | None) -> OperationDefinition:
    """The operation a URL calls, if it is called in a form it has (calls.check_form)."""
    definition = svc.registry.submittable(call.name)
    check_form(definition, method, entity_set)
    return definition


def _row_id(text: str, key: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise InvalidRequest(f"The row's {key} must be a GUID, as 4026be43-6b69-e111-8f65-78e7d1620f5e.") from None


def _submit(svc: Services, req: func.HttpRequest, name: str, inputs: Any) -> func.HttpResponse:
    """Run ``name`` in the background with Prefer: respond-async (202), else inside the request (200)."""
    prefs = parse_prefer(req.headers.get("Prefer"))
    runas = caller_of(svc, req).id
    carried = urls.carried(req)  # read (and a bad opt-in refused) before anything is run or written
    if not prefs.respond_async:
        return json_response(submission.run_now(svc, name, inputs, runas))
    op = submission.submit(svc, submission.Submission(name=name, inputs=inputs,
                                                      base_url=urls.public_base(req, svc.settings),
                                                      runas=runas, callback_url=prefs.callback_url))
    return _accepted(svc, op, carried, prefs.callback_token if prefs.callback_url else None)


@api()
def execute_background_operation(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """POST ExecuteBackgroundOperation: the SDK message, always in the background."""
    body = json_body(req)
    carried = urls.carried(req)
    sub = messages.background_operation(body, urls.public_base(req, svc.settings), caller_of(svc, req).id)
    op = submission.submit(svc, sub)
    return _accepted(svc, op, carried, "odata.callback" if sub.callback_url else None, sdk=True)


@api()
def execute_async(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """POST ExecuteAsync: queue the request as a system job and answer its ``AsyncJobId``, as Dataverse does; the
    status monitor is in ``Location``, as for every submission."""
    body = json_body(req)
    carried = urls.carried(req)
    sub = messages.execute_async(body, urls.public_base(req, svc.settings), caller_of(svc, req).id)
    op = submission.submit(svc, sub)
    return json_response(messages.async_job(op), 202, _polling(svc, op, carried)[1])


@api()
def execute_multiple(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """POST ExecuteMultiple: up to 1,000 requests queued at once, with Dataverse's ContinueOnError and
    ReturnResponses. 200 with IsFaulted and a response or fault per RequestIndex."""
    body = json_body(req)
    carried = urls.carried(req)
    read = messages.execute_multiple(body, urls.public_base(req, svc.settings), caller_of(svc, req).id)
    results = multiple.submit_many(svc, read.requests, continue_on_error=read.continue_on_error)
    return json_response(messages.multiple_response(read, results, lambda op: _polling(svc, op, carried)[0]))


@api()
def status_monitor(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET backgroundoperation/{id}: 202 while it runs (clients keep polling), 200 when done
    (500 for Failed or Canceled when the caller opted in). DELETE: ask for cancellation."""
    odata.check_options(req.params, ())
    operation_id, caller = operation_id_of(req), caller_of(svc, req)
    if req.method.upper() == "DELETE":
        op = control.cancel(svc, operation_id, caller, if_match=req.headers.get("If-Match"))
        return json_response({"backgroundOperationStateCode": op.status.state.value,
                              "backgroundOperationStatusCode": op.status.value})
    carried = urls.carried(req)
    op = control.get_operation(svc, operation_id, caller)
    location, polling = _polling(svc, op, carried)
    body = views.monitor(op, location)
    if not op.is_terminal:
        return json_response(body, 202, polling)
    if urls.FAIL_ON_FAILURE in carried and op.status in (Status.FAILED, Status.CANCELED):
        return json_response(views.failure(op) | body, 500, _trace(op))
    return json_response(body, 200, _trace(op))


@in_http_pool
def health(req: func.HttpRequest) -> func.HttpResponse:
    """GET health: 200 when the table and the queue answer, 503 with the reason otherwise."""
    try:
        svc = get_services()
        svc.store.ping()
        svc.queue.ping()
    except Exception as exc:
        reason = str(exc) if isinstance(exc, StorageUnavailable) else f"{type(exc).__name__}"
        log.warning("Health check failed: %s", reason)
        return json_response({"status": "unavailable", "reason": reason}, 503)
    return json_response({"status": "ok"})
