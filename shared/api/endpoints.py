"""Submitting and watching operations (SPEC §3.1, §3.2, §3.4): parse the request, call one service function,
shape the response. The OData resource routes are in ``resources``."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from typing import Any, cast

import azure.functions as func

from ..bootstrap import get_services
from ..domain import idempotency
from ..domain.errors import InvalidRequest, StorageUnavailable
from ..domain.operation import Operation
from ..domain.states import Status
from ..operations.registry import TARGET, Binding, Kind, OperationDefinition
from ..services import control, multiple, submission
from ..services.container import Services
from ..services.locations import status_location
from . import messages, metadata, odata, urls, views, waiting
from .calls import Call, check_form, function_inputs, parse_segment
from .errors import json_response
from .handling import api, caller_of, in_http_pool, json_body, operation_id_of
from .prefer import Preferences, parse_prefer
from .waiting import Held

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


def _accepted(svc: Services, op: Operation, carried: dict[str, str], applied: str, *, sdk: bool = False
              ) -> func.HttpResponse:
    location, polling = _polling(svc, op, carried)
    entity = f"{metadata.service_root(op.baseurl, svc.settings.route_prefix)}{metadata.ENTITY_SET}({op.id})"
    headers = {**polling, "x-ms-dyn-backgroundoperationid": op.id, "OData-EntityId": entity,
               "Preference-Applied": applied}
    body = views.accepted(op, location)
    if sdk:  # ExecuteBackgroundOperation's response property names, too
        body.update(BackgroundOperationId=op.id, Location=location)
    return json_response(body, 202, headers)


def _answered(svc: Services, op: Operation, carried: dict[str, str], prefs: Preferences, *, sdk: bool = False
              ) -> func.HttpResponse | Held:
    """The answer to a submission: 202 at once, or, with Prefer: wait=N, held until it has finished (200 with its
    outputs, as the status monitor answers) or N seconds have passed (202)."""
    token = prefs.callback_token if prefs.callback_url else None
    applied = "respond-async" + (f", {token}" if token else "")
    seconds = _wait_of(svc, prefs)
    if not seconds:
        return _accepted(svc, op, carried, applied, sdk=sdk)

    def answer(row: Operation, waited: int) -> func.HttpResponse:
        with_wait = f"{applied}, wait={waited}"
        if not row.is_terminal:
            return _accepted(svc, row, carried, with_wait, sdk=sdk)
        location = _polling(svc, row, carried)[0]
        extra = {"Location": location, "x-ms-dyn-backgroundoperationid": row.id, "Preference-Applied": with_wait}
        return _finished(row, location, carried, extra, sdk=sdk)

    return waiting.hold(svc, op, seconds, answer)


def _wait_of(svc: Services, prefs: Preferences) -> int:
    """How long to hold the answer: what the caller asked for, up to BGOPS_MAX_WAIT_SECONDS."""
    return min(prefs.wait or 0, svc.settings.max_wait_seconds)


def _finished(op: Operation, location: str, carried: dict[str, str], headers: dict[str, str], *, sdk: bool = False
              ) -> func.HttpResponse:
    """A finished operation as the status monitor answers it: 200 with its outputs, or, for Failed or Canceled
    when the caller opted in, 500 with the error."""
    body = views.monitor(op, location)
    if sdk:
        body.update(BackgroundOperationId=op.id, Location=location)
    if urls.FAIL_ON_FAILURE in carried and op.status in (Status.FAILED, Status.CANCELED):
        return json_response(views.failure(op) | body, 500, {**_trace(op), **headers})
    return json_response(body, 200, {**_trace(op), **headers})


@api()
def submit_webapi(svc: Services, req: func.HttpRequest) -> func.HttpResponse | Held:
    """POST data/v9.2/{name}: an action, in the background with Prefer: respond-async, else synchronously."""
    definition = _called(svc, parse_segment(req.route_params.get("name", "")), "POST", None)
    return _submit(svc, req, definition.name, json_body(req))


@api()
def call_function(svc: Services, req: func.HttpRequest) -> func.HttpResponse | Held:
    """GET data/v9.2/{name}: a function, its parameters in the URL (name(P1=@p1)?@p1=value)."""
    odata.check_options(req.params, ())
    call = parse_segment(req.route_params.get("name", ""))
    definition = _called(svc, call, "GET", None)
    return _submit(svc, req, definition.name, function_inputs(call, definition.inputs, req.params))


@api()
def call_bound(svc: Services, req: func.HttpRequest) -> func.HttpResponse | Held:
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


def _submit(svc: Services, req: func.HttpRequest, name: str, inputs: Any) -> func.HttpResponse | Held:
    """Run ``name`` in the background with Prefer: respond-async (202), else inside the request (200)."""
    prefs = parse_prefer(req.headers.get("Prefer"))
    runas = caller_of(svc, req).id
    carried = urls.carried(req)  # read (and a bad opt-in refused) before anything is run or written
    key = _idempotency_key(req)
    if not prefs.respond_async:
        if key is not None:
            raise InvalidRequest(f"An {idempotency.HEADER} makes a submit safe to send again by recording the "
                                 "operation it made; an operation run inside the request is not recorded. Add "
                                 "'Prefer: respond-async', or leave the key out.")
        return json_response(submission.run_now(svc, name, inputs, runas))
    op = submission.submit(svc, submission.Submission(name=name, inputs=inputs,
                                                      base_url=urls.public_base(req, svc.settings),
                                                      runas=runas, callback_url=prefs.callback_url,
                                                      idempotency_key=key))
    return _answered(svc, op, carried, prefs)


def _idempotency_key(req: func.HttpRequest) -> str | None:
    """The request's Idempotency-Key, if it sends one (``domain.idempotency``); InvalidRequest if it cannot be
    used."""
    return idempotency.parse_key(req.headers.get(idempotency.HEADER))


@api()
def execute_background_operation(svc: Services, req: func.HttpRequest) -> func.HttpResponse | Held:
    """POST ExecuteBackgroundOperation: the SDK message, always in the background."""
    body = json_body(req)
    carried, key, wait = urls.carried(req), _idempotency_key(req), parse_prefer(req.headers.get("Prefer")).wait
    sub = messages.background_operation(body, urls.public_base(req, svc.settings), caller_of(svc, req).id)
    op = submission.submit(svc, replace(sub, idempotency_key=key))
    prefs = Preferences(callback_url=sub.callback_url, callback_token="odata.callback", wait=wait)
    return _answered(svc, op, carried, prefs, sdk=True)


@api()
def execute_async(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """POST ExecuteAsync: queue the request as a system job and answer its ``AsyncJobId``, as Dataverse does; the
    status monitor is in ``Location``, as for every submission."""
    body = json_body(req)
    carried, key = urls.carried(req), _idempotency_key(req)
    sub = messages.execute_async(body, urls.public_base(req, svc.settings), caller_of(svc, req).id)
    op = submission.submit(svc, replace(sub, idempotency_key=key))
    return json_response(messages.async_job(op), 202, _polling(svc, op, carried)[1])


@api()
def execute_multiple(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """POST ExecuteMultiple: up to 1,000 requests queued at once, with Dataverse's ContinueOnError and
    ReturnResponses. 200 with IsFaulted and a response or fault per RequestIndex. With an Idempotency-Key, the
    request at each index is keyed ``<key>#<index>``: the call sent again answers the operations it made."""
    body = json_body(req)
    carried, key = urls.carried(req), _idempotency_key(req)
    read = messages.execute_multiple(body, urls.public_base(req, svc.settings), caller_of(svc, req).id)
    requests = read.requests if key is None else [  # each request keyed by its place: the same call sent again
        replace(r, idempotency_key=f"{key}#{i}") if isinstance(r, submission.Submission) else r
        for i, r in enumerate(read.requests)]
    results = multiple.submit_many(svc, requests, continue_on_error=read.continue_on_error)
    return json_response(messages.multiple_response(read, results, lambda op: _polling(svc, op, carried)[0]))


@api()
def status_monitor(svc: Services, req: func.HttpRequest) -> func.HttpResponse | Held:
    """GET backgroundoperation/{id}: 202 while it runs (clients keep polling), 200 when done
    (500 for Failed or Canceled when the caller opted in), held up to N seconds for it to finish with
    Prefer: wait=N. DELETE: ask for cancellation."""
    odata.check_options(req.params, ())
    operation_id, caller = operation_id_of(req), caller_of(svc, req)
    if req.method.upper() == "DELETE":
        op = control.cancel(svc, operation_id, caller, if_match=req.headers.get("If-Match"))
        return json_response({"backgroundOperationStateCode": op.status.state.value,
                              "backgroundOperationStatusCode": op.status.value})
    carried, prefs = urls.carried(req), parse_prefer(req.headers.get("Prefer"))
    op = control.get_operation(svc, operation_id, caller)
    return waiting.hold(svc, op, _wait_of(svc, prefs), lambda row, waited: _monitored(svc, row, carried, waited))


def _monitored(svc: Services, op: Operation, carried: dict[str, str], waited: int) -> func.HttpResponse:
    """The status monitor's answer: 202 while it runs (poll Location again), 200 once it has finished."""
    location, polling = _polling(svc, op, carried)
    applied = {"Preference-Applied": f"wait={waited}"} if waited else {}
    if not op.is_terminal:
        return json_response(views.monitor(op, location), 202, {**polling, **applied})
    return _finished(op, location, carried, applied)


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
