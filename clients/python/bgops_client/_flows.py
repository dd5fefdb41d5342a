"""What each call does, once, for the sync and the asyncio client alike: a *flow* is a generator that yields the
requests to send (``Call``) and the pauses to make (``Pause``), is sent each answer (an ``httpx.Response``, or a
``ConnectionFailed`` thrown in), and returns the result. ``client`` and ``aio`` only carry flows out.

Retries: a submit carries an Idempotency-Key (one is made when the caller gives none), so sending it again after
a dropped connection, a 503 or a 409 for a key still being processed is safe; reads are always safe to send
again. Waiting for an operation uses ``Prefer: wait`` and then polls, honouring ``Retry-After``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from .errors import (
    ConnectionFailed,
    NotFound,
    NotTheApp,
    RequestRefused,
    ServiceError,
    Unauthorized,
    WaitTimedOut,
)
from .models import COLUMNS, OperationInfo, Status, status_code

T = TypeVar("T")
MAX_WAIT_SECONDS = 60  # what one held request asks the app for (the app may cut it down, and says so)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
KEY_IN_USE = "IdempotencyKeyInUse"


@dataclass(frozen=True)
class Call:
    """One request: to ``url`` (absolute), with what it carries."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    params: Mapping[str, str] | None = None
    timeout: float | None = None  # None: the client's own


@dataclass(frozen=True)
class Pause:
    """Wait this long before the next request."""

    seconds: float


Flow = Generator[Call | Pause, Any, T]


@dataclass(frozen=True)
class Api:
    """Where the app is: its base URL (``https://<app>.azurewebsites.net``, with or without ``/api``), and how
    often a request that failed for the service's sake is sent again."""

    base_url: str
    retries: int = 3

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"'{self.base_url}' is not the app's URL: give its base URL, such as "
                             "https://<app>.azurewebsites.net (or http://127.0.0.1:7071 for make run).")

    def url(self, path: str) -> str:
        base = self.base_url.rstrip("/")
        base = base[:-4] if base.endswith("/api") else base
        return f"{base}/api/{path.lstrip('/')}"


def read(response: httpx.Response) -> Any:
    """The JSON of a successful answer (None for an empty one), or the typed error the answer is."""
    status = response.status_code
    if status in (401, 403):
        raise Unauthorized(f"The app refused the request ({status}): check the function key (--key or BGOPS_KEY) "
                           "or the sign-in.")
    if 300 <= status < 400 and "/.auth/" in response.headers.get("Location", "") + str(response.request.url):
        raise Unauthorized("The app sent the request to its sign-in page (App Service Authentication): give the "
                           "client a credential and the scope of the app's registration.")
    body = _json(response)
    if 200 <= status < 300:
        if not response.content:
            return None
        if body is _NOT_JSON:
            raise _not_the_app(response)
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        if status >= 500:  # Azure's front end answers a stopped or crashed app itself, in HTML
            raise ServiceError(status, f"HTTP{status}", "The app, or Azure's front end before it, failed and said "
                                                         "nothing the client can read: try again later.")
        raise _not_the_app(response)
    code, message = str(error.get("code") or status), error["message"]
    if status == 404:
        raise NotFound(status, code, message)
    if status < 500:
        raise RequestRefused(status, code, message)
    raise ServiceError(status, code, message)


_NOT_JSON = object()


def _json(response: httpx.Response) -> Any:
    if "json" not in response.headers.get("content-type", ""):
        return _NOT_JSON
    try:
        return response.json()
    except ValueError:
        return _NOT_JSON


def _not_the_app(response: httpx.Response) -> NotTheApp:
    return NotTheApp(f"{response.request.url.copy_with(query=None)} answered {response.status_code} with something "
                     "this app never sends: is the URL the app's base URL (https://<app>.azurewebsites.net)?")


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default


def _backoff(attempt: int) -> float:
    """0.5 s, then 1, 2, 4 and 8 at most: a restarting host is waited out, a server that is down soon reported."""
    return float(min(0.5 * 2 ** (attempt - 1), 8))


def _sent(call: Call, api: Api, *, always: bool = False) -> Flow[httpx.Response]:
    """Send ``call``, again after a dropped connection or a 429/502/503/504 (``api.retries`` times more, after
    Retry-After or a growing pause); with ``always``, also after a 409 for an Idempotency-Key in use."""
    for attempt in range(1, api.retries + 2):
        last = attempt > api.retries
        try:
            response: httpx.Response = yield call
        except ConnectionFailed:
            if last:
                raise
            yield Pause(_backoff(attempt))
            continue
        busy = response.status_code == 409 and always and _error_code(response) == KEY_IN_USE
        if last or not (response.status_code in RETRY_STATUSES or busy):
            return response
        yield Pause(min(_retry_after(response, _backoff(attempt)), 30.0))
    raise AssertionError("unreachable")


def _error_code(response: httpx.Response) -> str:
    body = _json(response)
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code")) if isinstance(error, dict) else ""


def submit(api: Api, name: str, inputs: Mapping[str, Any] | None, *, callback_url: str | None,
           idempotency_key: str | None, postpone_until: datetime | None, ttl_seconds: int | None
           ) -> Flow[tuple[str, str]]:
    """Submit as the SDK message does (ExecuteBackgroundOperation); returns the operation's id and status URL."""
    body: dict[str, Any] = {"Request": {"RequestName": name, "Parameters": dict(inputs or {})}}
    if callback_url is not None:
        body["CallbackUri"] = callback_url
    if postpone_until is not None:
        moment = postpone_until if postpone_until.tzinfo else postpone_until.replace(tzinfo=UTC)
        body["PostponeUntil"] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if ttl_seconds is not None:
        body["TtlInSeconds"] = ttl_seconds
    key = idempotency_key or str(uuid.uuid4())
    call = Call("POST", api.url("ExecuteBackgroundOperation"), {"Idempotency-Key": key}, body)
    response = yield from _sent(call, api, always=True)
    answer = read(response)
    if not isinstance(answer, dict) or "backgroundOperationId" not in answer or "Location" not in response.headers:
        raise _not_the_app(response)
    return str(answer["backgroundOperationId"]), response.headers["Location"]


def _held(wait: float) -> float | None:
    """The timeout of a request the app may hold ``wait`` seconds: that, and some (None: the client's own)."""
    return wait + 30.0 if wait else None


def status(api: Api, operation_id: str) -> Flow[Status]:
    """The operation's row."""
    call = Call("GET", api.url(f"backgroundoperations/{operation_id}"), params={"$select": ",".join(COLUMNS)})
    row = read((yield from _sent(call, api)))
    if not isinstance(row, dict) or "backgroundoperationid" not in row:
        raise NotTheApp("The app answered a row without its id: is the URL the app's base URL?")
    return Status.from_row(row)


def wait(api: Api, operation_id: str, location: str, timeout: float | None) -> Flow[Status]:
    """Its status once it has finished: held requests (Prefer: wait), then polls at Retry-After; a dropped
    connection or a 5xx (the app restarting, say) is waited out. WaitTimedOut when ``timeout`` passes first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    failures = 0
    while True:
        left = MAX_WAIT_SECONDS if deadline is None else min(deadline - time.monotonic(), MAX_WAIT_SECONDS)
        if left <= 0:
            raise WaitTimedOut(f"Operation {operation_id} had not finished after {timeout:g} s.")
        held = int(left)
        try:
            response = yield Call("GET", location, {"Prefer": f"wait={held}"} if held else {}, timeout=_held(held))
        except ConnectionFailed:
            failures += 1
            yield Pause(min(_backoff(failures), max(left, 0.0)))
            continue
        if response.status_code in RETRY_STATUSES:
            failures += 1
            yield Pause(min(_retry_after(response, _backoff(failures)), max(left, 0.0)))
            continue
        if response.status_code == 200:
            return (yield from status(api, operation_id))
        read(response)  # a 4xx raises; a 202 goes on
        failures = 0
        if "wait=" not in response.headers.get("Preference-Applied", ""):  # not held: poll as it asks
            yield Pause(min(_retry_after(response, 5.0), max(left, 0.0)))


def cancel(api: Api, operation_id: str) -> Flow[None]:
    read((yield from _sent(Call("DELETE", api.url(f"backgroundoperation/{operation_id}")), api)))


def change(api: Api, operation_id: str, state_code: int) -> Flow[None]:
    """Pause (state 1) or resume (state 0)."""
    call = Call("PATCH", api.url(f"backgroundoperations/{operation_id}"),
                json={"backgroundoperationstatecode": state_code})
    read((yield from _sent(call, api)))


def page(api: Api, url: str | None, query: Mapping[str, str], page_size: int) -> Flow[tuple[list[Status], str | None]]:
    """One page of the list, newest first, and the URL of the next (None after the last)."""
    call = Call("GET", url or api.url("backgroundoperations"), {"Prefer": f"odata.maxpagesize={page_size}"},
                params=None if url else {"$select": ",".join(COLUMNS), **query})
    body = read((yield from _sent(call, api)))
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise NotTheApp("The app answered a list without its rows: is the URL the app's base URL?")
    return [Status.from_row(row) for row in body["value"]], body.get("@odata.nextLink")


def catalog(api: Api) -> Flow[list[OperationInfo]]:
    body = read((yield from _sent(Call("GET", api.url("operations")), api)))
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise NotTheApp("The app answered its catalog without its operations: is the URL the app's base URL?")
    return [OperationInfo.from_catalog(item) for item in body["value"]]


def definition(api: Api, name: str) -> Flow[OperationInfo]:
    body = read((yield from _sent(Call("GET", api.url(f"operations/{name}")), api)))
    if not isinstance(body, dict) or "name" not in body:
        raise NotTheApp("The app answered an operation without its name: is the URL the app's base URL?")
    return OperationInfo.from_catalog(body)


def list_query(filter: str | None, status: str | int | None, name: str | None) -> dict[str, str]:
    """The $filter of a list: the caller's own, and a status and a name, all of them together."""
    clauses = [f"({filter})"] if filter else []
    if status is not None:
        clauses.append(f"backgroundoperationstatuscode eq {status_code(status)}")
    if name is not None:
        clauses.append("name eq '{}'".format(name.replace("'", "''")))
    return {"$filter": " and ".join(clauses)} if clauses else {}
