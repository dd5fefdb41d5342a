"""Every error the API returns, mapped from domain errors in this one place.

Bodies use the OData/Dataverse shape ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import json
import logging

import azure.functions as func

from ..domain import errors as e
from ..domain.error_codes import as_hex
from ..domain.states import OperationFinished, TransitionRefused

log = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of decides.
STATUS_OF: list[tuple[type[Exception], int, str]] = [
    (e.PayloadTooLarge, 413, "PayloadTooLarge"),
    (e.UnsupportedMediaType, 415, "UnsupportedMediaType"),
    (e.InvalidRequest, 400, "InvalidRequest"),
    (e.Unauthenticated, 401, "Unauthenticated"),
    (e.Forbidden, 403, "Forbidden"),
    (e.UnknownOperation, 404, "UnknownOperation"),
    (e.OperationNotFound, 404, "OperationNotFound"),
    (e.SubscriptionNotFound, 404, "SubscriptionNotFound"),
    (e.NotFound, 404, "NotFound"),
    (e.MethodNotAllowed, 405, "MethodNotAllowed"),
    (OperationFinished, 409, "OperationFinished"),
    (e.IdempotencyKeyInUse, 409, "IdempotencyKeyInUse"),
    (e.IdempotencyKeyReused, 422, "IdempotencyKeyReused"),
    (TransitionRefused, 400, "TransitionNotAllowed"),
    (e.ConcurrencyConflict, 409, "Conflict"),
    (e.LimitReached, 409, "LimitReached"),
    (e.PreconditionFailed, 412, "PreconditionFailed"),
    (e.NotAcceptable, 406, "NotAcceptable"),
    (e.NotSupported, 501, "NotImplemented"),
    (e.ServiceBusy, 429, "TooManyRequests"),
    (e.StorageUnavailable, 503, "StorageUnavailable"),
    (e.HandlerFailed, 400, "HandlerFailed"),
]


JSON = "application/json; odata.metadata=minimal"


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    """A JSON response with the OData headers every response carries."""
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype=JSON,
                             headers={"OData-Version": "4.0", **(headers or {})})


def no_content(headers: dict[str, str] | None = None) -> func.HttpResponse:
    """A 204: no body, so no Content-Type either (RFC 9110 §15.3.5). The worker would add text/plain to a
    response without one; an empty Content-Type is how the Functions host is told to send none (its
    RawScriptResult sets HttpResponse.ContentType, and ASP.NET Core removes the header for an empty value)."""
    return func.HttpResponse(status_code=204, headers={"OData-Version": "4.0", "Content-Type": "", **(headers or {})})


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None
                   ) -> func.HttpResponse:
    """A JSON error response."""
    return json_response({"error": {"code": code, "message": message}}, status, headers)


def error_parts(exc: Exception) -> tuple[int, str, str]:
    """The status, code and message an error a service raised answers with; (500, "InternalError", ...)
    for an unexpected one (logged here, its text never shown)."""
    for cls, status, code in STATUS_OF:
        if isinstance(exc, cls):
            return status, as_hex(exc.code) if isinstance(exc, e.HandlerFailed) else code, str(exc)
    log.exception("Unexpected error while serving a request.")
    return 500, "InternalError", "An unexpected error occurred; the app's logs have the details."


def response_for(exc: Exception, overrides: dict[type[Exception], int] | None = None) -> func.HttpResponse:
    """The response for an exception a service raised; unexpected ones are logged and become 500."""
    status, code, message = error_parts(exc)
    status = next((s for c, s in (overrides or {}).items() if isinstance(exc, c)), status)
    allow = ", ".join(exc.allow) if isinstance(exc, e.MethodNotAllowed) else "GET"
    headers = {503: {"Retry-After": "5"}, 429: {"Retry-After": "5"}, 401: {"WWW-Authenticate": "Bearer"},
               405: {"Allow": allow}}.get(status)
    if isinstance(exc, e.IdempotencyKeyInUse):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(status, code, message, headers)
