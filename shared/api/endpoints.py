"""One function per HTTP route: parse the request, call one service function, shape the response."""

from __future__ import annotations

import json
import logging
import math
from typing import Any
from urllib.parse import urlencode, urlsplit

import azure.functions as func

from ..domain.errors import InvalidRequest, OperationFinished, PayloadTooLarge, StorageUnavailable, UnknownOperation
from ..domain.ids import parse_operation_id
from ..domain.times import parse_time
from ..services import control, submission
from ..services.container import Services, get_services
from ..services.locations import status_location
from ..storage.ports import ListQuery
from . import odata, views
from .errors import json_response, response_for
from .prefer import parse_prefer

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 256 * 1024
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL-ID"


def api(overrides: dict | None = None):
    """Decorator: give the endpoint the services, and turn any error into its response."""

    def decorate(endpoint):
        # Not functools.wraps: the Python worker reads the signature, which must stay (req).
        def run(req: func.HttpRequest) -> func.HttpResponse:
            try:
                return endpoint(get_services(), req)
            except Exception as exc:  # mapped in one place, api/errors.py
                return response_for(exc, overrides)

        run.__name__, run.__doc__ = endpoint.__name__, endpoint.__doc__
        return run

    return decorate


def _body(req: func.HttpRequest) -> Any:
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB.")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    except (ValueError, RecursionError):
        raise InvalidRequest("The request body is not valid JSON (or is nested too deeply).") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range")
    return value


def _base_url(req: func.HttpRequest) -> str:
    parts = urlsplit(req.url)
    return f"{parts.scheme}://{parts.netloc}"


def _accepted(svc: Services, op, token: str | None, *, sdk: bool = False) -> func.HttpResponse:
    location = status_location(svc.settings, op)
    headers = {
        "Location": location,
        "x-ms-dyn-backgroundoperationid": op.id,
        "Preference-Applied": "respond-async" + (f", {token}" if token else ""),
        "Retry-After": str(svc.settings.retry_after_seconds),
    }
    body = views.accepted(op, location)
    if sdk:  # ExecuteBackgroundOperation's response property names, too
        body.update(BackgroundOperationId=op.id, Location=location)
    return json_response(body, 202, headers)


@api()
def submit_webapi(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """POST data/v9.2/{name}: in the background with Prefer: respond-async, else synchronously."""
    prefs = parse_prefer(req.headers.get("Prefer"))
    name, inputs, runas = req.route_params.get("name", ""), _body(req), req.headers.get(PRINCIPAL_HEADER, "")
    if not prefs.respond_async:
        return json_response(submission.run_now(svc, name, inputs, runas))
    op = submission.submit(svc, submission.Submission(name=name, inputs=inputs, base_url=_base_url(req),
                                                      runas=runas, callback_url=prefs.callback_url))
    return _accepted(svc, op, prefs.callback_token if prefs.callback_url else None)


@api()
def execute_background_operation(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """POST ExecuteBackgroundOperation: the SDK message, always in the background."""
    body = _body(req)
    request = body.get("Request")
    if not isinstance(request, dict) or not isinstance(request.get("RequestName"), str):
        raise InvalidRequest('The body needs "Request": {"RequestName": "<operation>", "Parameters": {...}}.')
    postpone = body.get("PostponeUntil")
    sub = submission.Submission(
        name=request["RequestName"], inputs={} if request.get("Parameters") is None else request["Parameters"],
        base_url=_base_url(req),
        runas=req.headers.get(PRINCIPAL_HEADER, ""), callback_url=body.get("CallbackUri"),
        ttl_seconds=body.get("TtlInSeconds"),
        postpone_until=None if postpone is None else parse_time(postpone, "PostponeUntil"))
    op = submission.submit(svc, sub)
    return _accepted(svc, op, "odata.callback" if sub.callback_url else None, sdk=True)


def _operation_id(req: func.HttpRequest) -> str:
    return parse_operation_id(req.route_params.get("id", ""))


@api()
def status_monitor(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET backgroundoperation/{id}: 202 while it runs (clients keep polling), 200 when done.
    DELETE: ask for cancellation."""
    operation_id = _operation_id(req)
    if req.method.upper() == "DELETE":
        op = control.cancel(svc, operation_id)
        return json_response({"backgroundOperationStateCode": op.status.state.value,
                      "backgroundOperationStatusCode": op.status.value})
    op = control.get_operation(svc, operation_id)
    location = status_location(svc.settings, op)
    if op.is_terminal:
        return json_response(views.monitor(op, location))
    return json_response(views.monitor(op, location), 202,
                 {"Location": location, "Retry-After": str(svc.settings.retry_after_seconds)})


@api(overrides={OperationFinished: 400})
def entity(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET/PATCH backgroundoperations({id}): the row as a resource; PATCH changes its state."""
    operation_id = _operation_id(req)
    if req.method.upper() == "PATCH":
        control.change(svc, operation_id, control.parse_change(_body(req) or None, svc.clock()))
        return func.HttpResponse(status_code=204, headers={"OData-Version": "4.0"})
    params = odata.check_options(req.params, odata.ENTITY_OPTIONS)
    select = odata.parse_select(params.get("$select"), views.SELECTABLE, default=views.COLUMNS)
    return json_response(views.entity(control.get_operation(svc, operation_id), select))


@api()
def list_operations(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET backgroundoperations: newest first, with $filter, $select, $top and a nextLink."""
    params = odata.check_options(req.params, odata.LIST_OPTIONS)
    select = odata.parse_select(params.get("$select"), views.SELECTABLE, default=views.COLUMNS)
    table_filter = odata.parse_filter(params.get("$filter"), canonical_name=lambda name: _canonical(svc, name))
    after = params.get("$skiptoken")
    query = ListQuery(filter=table_filter.text if table_filter else None,
                      parameters=table_filter.parameters if table_filter else None,
                      top=odata.parse_top(params.get("$top")),
                      after=parse_operation_id(after) if after else None)
    page = control.list_operations(svc, query)
    body: dict[str, Any] = {"value": [views.entity(op, select) for op in page.operations]}
    if page.next_after:
        kept = {k: v for k, v in params.items() if k in ("$filter", "$select", "$top") and v}
        body["@odata.nextLink"] = f"{req.url.split('?')[0]}?{urlencode({**kept, '$skiptoken': page.next_after})}"
    return json_response(body)


def _canonical(svc: Services, name: str) -> str:
    """The registered spelling of an operation name; names of unknown operations as given."""
    try:
        return svc.registry.get(name).name
    except UnknownOperation:
        return name


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
