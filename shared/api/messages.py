"""The SDK messages' bodies (ExecuteBackgroundOperation, ExecuteAsync) read into submissions, and their
responses: one reading for the single routes and for the entries of ExecuteMultiple."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..domain.errors import BackgroundOperationError, InvalidRequest
from ..domain.lines import ORGANIZATION
from ..domain.operation import Operation
from ..domain.times import parse_time
from ..services.multiple import MAX_REQUESTS, Result
from ..services.submission import Submission
from .errors import error_parts

EXECUTE_ASYNC_PROPERTIES = ("Request", "DependencyToken", "RecurrencePattern", "RecurrenceStartTime")


def _requested(body: dict[str, Any]) -> tuple[str, Any]:
    """The operation name and parameters of an SDK message's ``Request``."""
    request = body.get("Request")
    if not isinstance(request, dict) or not isinstance(request.get("RequestName"), str):
        raise InvalidRequest('The body needs "Request": {"RequestName": "<operation>", "Parameters": {...}}.')
    return request["RequestName"], {} if request.get("Parameters") is None else request["Parameters"]


def _check_known(message: str, body: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise InvalidRequest(f"{message} has no property {', '.join(repr(u[:64]) for u in unknown[:5])}; it "
                             f"takes: {', '.join(known)}.")


def background_operation(body: dict[str, Any], base_url: str, runas: str) -> Submission:
    """ExecuteBackgroundOperation's body: the request, and its callback, time to live and postponement."""
    name, parameters = _requested(body)
    postpone = body.get("PostponeUntil")
    return Submission(name=name, inputs=parameters, base_url=base_url, runas=runas,
                      callback_url=body.get("CallbackUri"), ttl_seconds=body.get("TtlInSeconds"),
                      postpone_until=None if postpone is None else parse_time(postpone, "PostponeUntil"),
                      dependency_token=body.get("DependencyToken"), **_recurrence(body))


def execute_async(body: dict[str, Any], base_url: str, runas: str) -> Submission:
    """ExecuteAsync's body: the request, and the line to run in (as in Dataverse, the organization's, one at a
    time, unless the operation or the caller's DependencyToken names another)."""
    _check_known("ExecuteAsync", body, EXECUTE_ASYNC_PROPERTIES)
    name, parameters = _requested(body)
    return Submission(name=name, inputs=parameters, base_url=base_url, runas=runas,
                      dependency_token=body.get("DependencyToken"), default_line=ORGANIZATION, **_recurrence(body))


def _recurrence(body: dict[str, Any]) -> dict[str, Any]:
    """A recurring job's RecurrencePattern and RecurrenceStartTime (Dataverse's names), as a submission takes them."""
    start = body.get("RecurrenceStartTime")
    if start is not None and body.get("RecurrencePattern") is None:
        raise InvalidRequest("RecurrenceStartTime needs a RecurrencePattern.")
    return {"recurrence_pattern": body.get("RecurrencePattern"),
            "recurrence_start": None if start is None else parse_time(start, "RecurrenceStartTime")}


def async_job(op: Operation) -> dict[str, Any]:
    """ExecuteAsyncResponse."""
    return {"AsyncJobId": op.id}


MULTIPLE_PROPERTIES = ("Requests", "Settings")
SETTINGS_PROPERTIES = ("ContinueOnError", "ReturnResponses")
ASYNC, BACKGROUND, MULTIPLE = "ExecuteAsync", "ExecuteBackgroundOperation", "ExecuteMultiple"


@dataclass(frozen=True)
class Multiple:
    """ExecuteMultiple's body as read: each request's submission (or why it cannot be one), and its kind."""

    requests: list[Submission | BackgroundOperationError]
    kinds: list[str]  # ASYNC, BACKGROUND, or "" for an operation named directly
    continue_on_error: bool
    return_responses: bool


def execute_multiple(body: dict[str, Any], base_url: str, runas: str) -> Multiple:
    """ExecuteMultiple's body. A body or an entry the request cannot be read as (more than MAX_REQUESTS,
    an entry that is not a request, a nested ExecuteMultiple) is refused whole, before anything is queued,
    naming the RequestIndex; what a readable request asks for is checked later, as its own fault."""
    _check_known(MULTIPLE, body, MULTIPLE_PROPERTIES)
    entries = body.get("Requests")
    if not isinstance(entries, list) or not entries:
        raise InvalidRequest('ExecuteMultiple needs "Requests": a list of {"RequestName", "Parameters"} objects.')
    if len(entries) > MAX_REQUESTS:
        raise InvalidRequest(f"ExecuteMultiple takes at most {MAX_REQUESTS} requests, not {len(entries)}; send "
                             "them in several.")
    continue_on_error, return_responses = _settings(body.get("Settings"))
    kinds = [_kind(index, entry) for index, entry in enumerate(entries)]
    requests = [_entry(entry, kind, base_url, runas) for entry, kind in zip(entries, kinds, strict=True)]
    return Multiple(requests, kinds, continue_on_error, return_responses)


def _settings(settings: Any) -> tuple[bool, bool]:
    """ContinueOnError and ReturnResponses; both false unless given, as ExecuteMultipleSettings' are."""
    if settings is None:
        return False, False
    if not isinstance(settings, dict):
        raise InvalidRequest('"Settings" must be an object: {"ContinueOnError": bool, "ReturnResponses": bool}.')
    _check_known("ExecuteMultiple's Settings", settings, SETTINGS_PROPERTIES)
    values = [settings.get(name, False) for name in SETTINGS_PROPERTIES]
    if not all(isinstance(value, bool) for value in values):
        raise InvalidRequest("ContinueOnError and ReturnResponses must be true or false.")
    return values[0], values[1]


def _kind(index: int, entry: Any) -> str:
    """What the entry at ``index`` asks for; InvalidRequest naming it when it is not a request."""
    where = f"Requests[{index}] (RequestIndex {index})"
    if not isinstance(entry, dict) or not isinstance(entry.get("RequestName"), str):
        raise InvalidRequest(f'{where} is not a request: each entry must be an object with "RequestName" and '
                             '"Parameters".')
    name = entry["RequestName"]
    if name.lower() == MULTIPLE.lower():
        raise InvalidRequest(f"{where} is an ExecuteMultiple: ExecuteMultiple requests cannot be nested.")
    parameters = entry.get("Parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidRequest(f'{where} has "Parameters" that are not an object.')
    return next((kind for kind in (ASYNC, BACKGROUND) if name.lower() == kind.lower()), "")


def _entry(entry: dict[str, Any], kind: str, base_url: str, runas: str) -> Submission | BackgroundOperationError:
    parameters = entry.get("Parameters") or {}
    try:
        if kind == ASYNC:
            return execute_async(parameters, base_url, runas)
        if kind == BACKGROUND:
            return background_operation(parameters, base_url, runas)
        return Submission(name=entry["RequestName"], inputs=parameters, base_url=base_url, runas=runas)
    except BackgroundOperationError as e:
        return e


def multiple_response(read: Multiple, results: list[Result], location: Callable[[Operation], str]
                      ) -> dict[str, Any]:
    """ExecuteMultipleResponse: IsFaulted, and a response per processed request (only the faults unless
    ReturnResponses)."""
    responses = [{"RequestIndex": r.index, "Response": _response(read.kinds[r.index], r.row, location),
                  "Fault": None} if r.row is not None else
                 {"RequestIndex": r.index, "Response": None, "Fault": _fault(r.fault)} for r in results]
    shown = responses if read.return_responses else [r for r in responses if r["Fault"] is not None]
    return {"IsFaulted": any(r.fault is not None for r in results), "Responses": shown}


def _response(kind: str, op: Operation, location: Callable[[Operation], str]) -> dict[str, Any]:
    if kind == ASYNC:
        return async_job(op)
    return {"BackgroundOperationId": op.id, "Location": location(op)}


def _fault(error: BackgroundOperationError | None) -> dict[str, Any]:
    """A request's fault: the error code and message it would have had on its own, and that status."""
    status, code, message = error_parts(error or BackgroundOperationError("The request failed."))
    return {"ErrorCode": code, "Message": message, "StatusCode": status}
