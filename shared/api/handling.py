"""What every endpoint shares: services given, the request URL checked and errors mapped (``api``), the JSON
body, the id in the path."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn
from urllib.parse import parse_qsl, unquote

import azure.functions as func

from ..bootstrap import get_pools, get_services
from ..domain.callers import Caller, caller_from
from ..domain.control_characters import CONTROL_CHARACTERS, has_control_character
from ..domain.errors import Forbidden, InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from ..domain.ids import parse_operation_id
from ..domain.tracecontext import TraceParent
from ..services.container import Services
from ..telemetry import spans
from . import waiting
from .errors import response_for
from .urls import FAIL_ON_FAILURE
from .waiting import Held

# Inputs may take 1 MiB as JSON in UTF-8; a client that escapes what is not ASCII (\u00fc, six bytes for
# two) sends up to six times that.
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_JSON_DEPTH = 32  # objects and arrays inside one another; real requests use a handful
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # Table Storage's Int64; also what .NET clients parse
UTF8 = ("utf-8", "utf8")
BYTE_ORDER_MARKS = ((b"\xef\xbb\xbf", "UTF-8"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"),
                    (b"\xfe\xff", "UTF-16"), (b"\xff\xfe", "UTF-16"))


Endpoint = Callable[[Services, func.HttpRequest], func.HttpResponse | Held]
Handler = Callable[[func.HttpRequest], func.HttpResponse | Held]
Function = Callable[[func.HttpRequest, func.Context], Awaitable[func.HttpResponse]]
Served = Callable[[func.HttpRequest], func.HttpResponse]  # a request answered in the calling thread, never held

_HANDLERS: dict[Function, Served] = {}


def in_http_pool(handler: Handler) -> Function:
    """``handler`` as an ``async def`` HTTP function whose body runs in the app's HTTP pool (services.pools); an
    answer it holds for its operation to finish (``waiting``) waits on the event loop, each read in the pool."""

    # Not functools.wraps: the Python worker reads the signature, which must stay (req, context).
    async def run(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
        parent = spans.invocation_parent(getattr(context, "trace_context", None), req.headers)
        loop, pool = asyncio.get_running_loop(), get_pools().http
        result = await loop.run_in_executor(pool, _in_trace, handler, req, parent)
        return await waiting.settle(result, lambda held: loop.run_in_executor(pool, waiting.step, held))

    run.__name__, run.__doc__ = handler.__name__, handler.__doc__
    _HANDLERS[run] = lambda req: waiting.at_once(handler(req))
    return run


def _in_trace(handler: Handler, req: func.HttpRequest, parent: TraceParent | None) -> func.HttpResponse | Held:
    """The handler, in the invocation's trace (what an operation submitted by it is recorded in)."""
    with spans.in_trace(parent):
        return handler(req)


def handler_of(function: Function) -> Served:
    """What an HTTP function runs in the pool, to call from a thread of the pool already (a $batch's requests)."""
    return _HANDLERS[function]


def api(overrides: dict[type[Exception], int] | None = None) -> Callable[[Endpoint], Function]:
    """Decorator: give the endpoint the services, turn any error into its response, and run it in
    the HTTP pool."""

    def decorate(endpoint: Endpoint) -> Function:
        def serve(req: func.HttpRequest) -> func.HttpResponse | Held:
            try:
                check_request_url(req)
                return endpoint(get_services(), req)
            except Exception as exc:  # mapped in one place, api/errors.py
                return response_for(exc, overrides)

        serve.__name__, serve.__doc__ = endpoint.__name__, endpoint.__doc__
        return in_http_pool(serve)

    return decorate


def check_request_url(req: func.HttpRequest) -> None:
    """Refuse a path or query string holding a control character, raw or percent-encoded, and a query option
    the app reads given more than once (which one counts would be a guess). Never echoes a value: the query
    may hold the caller's key."""
    path, _, query = req.url.partition("?")
    if has_control_character(unquote(path)) or any(has_control_character(v) for v in req.route_params.values()):
        raise InvalidRequest(f"The request path must not hold {CONTROL_CHARACTERS}; remove them.")
    pairs = parse_qsl(query, keep_blank_values=True)
    for name, value in [*pairs, *req.params.items()]:
        if has_control_character(name) or has_control_character(value):
            which = "A query option's name" if has_control_character(name) else f"The query option {name[:64]}"
            raise InvalidRequest(f"{which} must not hold {CONTROL_CHARACTERS}; remove them.")
    given = Counter(name for name, _ in pairs if name.startswith("$") or name == FAIL_ON_FAILURE)
    repeated = sorted(name[:64] for name, count in given.items() if count > 1)[:10]
    if repeated:
        which = f"option {repeated[0]} is" if len(repeated) == 1 else f"options {', '.join(repeated)} are"
        raise InvalidRequest(f"The query {which} given more than once; give each option once.")


def json_body(req: func.HttpRequest) -> Any:
    """The request body as a JSON object ({} when empty); InvalidRequest, PayloadTooLarge or
    UnsupportedMediaType (not UTF-8) otherwise."""
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES // 1024 // 1024} MiB.")
    _check_charset(req.headers.get("Content-Type") or "")
    if not raw.strip():
        return {}
    text = _utf8(raw)
    try:
        body = json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except RecursionError:
        raise InvalidRequest(f"The request body is nested more than {MAX_JSON_DEPTH} levels deep.") from None
    except ValueError as e:
        if "integer string conversion" in str(e):  # thousands of digits: Python's own limit
            raise InvalidRequest("A number in the request body is too large: whole numbers must be from -2^63 "
                                 "to 2^63-1 (send bigger ones as strings).") from None
        raise InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    check_shape(body)
    return body


def _check_charset(content_type: str) -> None:
    """Refuse a Content-Type whose charset is not UTF-8 (none means UTF-8, as RFC 8259 has JSON)."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in UTF8:
            named = f" ({charset[:32]})" if re.fullmatch(r"[a-z0-9._:-]+", charset) else ""
            raise UnsupportedMediaType(f"The request's Content-Type names a charset other than UTF-8{named}; "
                                       "send JSON in UTF-8, with charset=utf-8 or no charset.")


def _utf8(raw: bytes) -> str:
    """The body as text, if it is UTF-8 without a byte order mark; UnsupportedMediaType otherwise."""
    bom = next((name for mark, name in BYTE_ORDER_MARKS if raw.startswith(mark)), None)
    if bom:
        raise UnsupportedMediaType(f"The request body starts with a {bom} byte order mark; send JSON in UTF-8, "
                                   "without a byte order mark.")
    # JSON starts with an ASCII character, so one of the first two bytes of UTF-16 or UTF-32 is 0 (RFC 4627 §3);
    # UTF-16 of ASCII is valid UTF-8 otherwise, and would be read as JSON with a NUL after each character.
    if b"\x00" in raw[:2]:
        raise UnsupportedMediaType("The request body is not UTF-8 (it looks like UTF-16 or UTF-32); send JSON "
                                   "in UTF-8.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsupportedMediaType("The request body is not UTF-8 (Latin-1, or another encoding?); send JSON in "
                                   "UTF-8.") from None


def check_shape(body: Any) -> None:
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
