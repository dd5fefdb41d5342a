"""What every endpoint shares: services given and errors mapped (``api``), the JSON body, the id in the path."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn

import azure.functions as func

from ..domain.callers import Caller, caller_from
from ..domain.errors import Forbidden, InvalidRequest, PayloadTooLarge
from ..domain.ids import parse_operation_id
from ..services.container import Services, get_services
from .errors import response_for

# Inputs may take 1 MiB as JSON in UTF-8; a client that escapes what is not ASCII (\u00fc, six bytes for
# two) sends up to six times that.
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_JSON_DEPTH = 32  # objects and arrays inside one another; real requests use a handful
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # Table Storage's Int64; also what .NET clients parse


Endpoint = Callable[[Services, func.HttpRequest], func.HttpResponse]
Handler = Callable[[func.HttpRequest], func.HttpResponse]
Function = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]

# HTTP functions are ``async def``: the Python worker runs those on its event loop, not in the thread
# pool its synchronous functions share (PYTHON_THREADPOOL_THREAD_COUNT), so the queue-triggered
# worker's long handlers, however many, never hold the threads requests need (issue 9). A request's
# blocking work (its storage calls) runs in this pool of the app's own.
HTTP_THREADS = 16
_HTTP_POOL = ThreadPoolExecutor(max_workers=HTTP_THREADS, thread_name_prefix="bgops-http")


def in_http_pool(handler: Handler) -> Function:
    """``handler`` as an ``async def`` HTTP function whose body runs in the app's HTTP pool."""

    # Not functools.wraps: the Python worker reads the signature, which must stay (req).
    async def run(req: func.HttpRequest) -> func.HttpResponse:
        return await asyncio.get_running_loop().run_in_executor(_HTTP_POOL, handler, req)

    run.__name__, run.__doc__ = handler.__name__, handler.__doc__
    return run


def api(overrides: dict[type[Exception], int] | None = None) -> Callable[[Endpoint], Function]:
    """Decorator: give the endpoint the services, turn any error into its response, and run it in
    the HTTP pool."""

    def decorate(endpoint: Endpoint) -> Function:
        def serve(req: func.HttpRequest) -> func.HttpResponse:
            try:
                return endpoint(get_services(), req)
            except Exception as exc:  # mapped in one place, api/errors.py
                return response_for(exc, overrides)

        serve.__name__, serve.__doc__ = endpoint.__name__, endpoint.__doc__
        return in_http_pool(serve)

    return decorate


def json_body(req: func.HttpRequest) -> Any:
    """The request body as a JSON object ({} when empty); InvalidRequest or PayloadTooLarge otherwise."""
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES // 1024 // 1024} MiB.")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    except RecursionError:
        raise InvalidRequest(f"The request body is nested more than {MAX_JSON_DEPTH} levels deep.") from None
    except ValueError as e:
        if "integer string conversion" in str(e):  # thousands of digits: Python's own limit
            raise InvalidRequest("A number in the request body is too large: whole numbers must be from -2^63 "
                                 "to 2^63-1 (send bigger ones as strings).") from None
        raise InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    _check_shape(body)
    return body


def _check_shape(body: dict[str, Any]) -> None:
    """Refuse JSON nested more than MAX_JSON_DEPTH deep, or with whole numbers no client or column holds."""
    stack: list[tuple[Any, int, str]] = [(body, 1, "$")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, int) and not isinstance(node, bool) and not INT64_MIN <= node <= INT64_MAX:
            raise InvalidRequest(f"The number at {path[:200]} is too large: whole numbers must be from -2^63 to "
                                 "2^63-1 (send bigger ones as strings).")
        if isinstance(node, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise InvalidRequest(f"The request body is nested more than {MAX_JSON_DEPTH} levels deep "
                                     f"(at {path[:200]}).")
            children = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((value, depth + 1, f"{path}[{key!r}]") for key, value in children)


def _not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range")
    return value


def caller_of(svc: Services, req: func.HttpRequest) -> Caller:
    """Who calls (``domain.callers``): the platform's principal when App Service Authentication is on (it
    strips any principal header a client sends); otherwise nobody vouches for the headers, so they are
    ignored and a key grants every operation: a caller cannot make itself someone else."""
    return caller_from(req.headers, platform_authentication=svc.settings.platform_authentication,
                       admin_role=svc.settings.admin_role)


def admin_of(svc: Services, req: func.HttpRequest, what: str) -> Caller:
    """The caller, if it may act on every caller's operations (``what`` does); Forbidden otherwise."""
    caller = caller_of(svc, req)
    if not caller.admin:
        raise Forbidden(f"{what} every caller's operations, so it needs the '{svc.settings.admin_role}' app role.")
    return caller


def operation_id_of(req: func.HttpRequest) -> str:
    """The operation id in the route (``{id}``); InvalidRequest when it is not one."""
    return parse_operation_id(req.route_params.get("id", ""))
