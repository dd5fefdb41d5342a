"""``POST data/v9.2/$batch``: many Web API requests in one, as the Dataverse Web API takes them.

Each request of the batch is served by the same endpoint, with the same checks, as if it had been sent alone:
it reaches the app's host with the caller's own principal (the one the platform vouched for on the batch,
never one written inside it), so a batch reaches no row its caller could not reach one request at a time.

What Table Storage cannot do, the batch does not claim: a change set's requests are not one transaction (two
operations' rows, and the queue messages of their runs, cannot be written as one unit). They run in order
and the first failure stops the change set: the answers say which requests ran (their own answers) and which
did not (424 Failed Dependency), so a client never takes a change that happened for one rolled back.
Without ``Prefer: odata.continue-on-error`` the batch stops at the first failure, as Dataverse's does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urljoin, urlsplit

import azure.functions as func

from ..domain.errors import InvalidRequest, NotFound
from ..services.container import Services
from . import odata
from .errors import JSON, error_response, response_for
from .handling import Served, api, handler_of
from .multipart import ChangeSet, InnerRequest, InnerResponse, read_batch, write_batch
from .prefer import CONTINUE_TOKENS, parse_prefer

WEB_API = "data/v9.2"
# Headers the platform's front end sets (App Service Authentication's principal, the forwarded scheme and
# host): taken from the batch, which the front end saw, and never from inside it, which it did not.
PLATFORM_HEADERS = ("x-ms-client-principal", "x-forwarded-", "x-arr-", "x-original-", "x-ms-original-")
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # kept as written when the URL is encoded (spaces and the like are not)


@dataclass(frozen=True)
class Route:
    """A Web API route a batch may hold: its template as a pattern, the methods it takes, what serves it."""

    pattern: re.Pattern[str]
    methods: frozenset[str]
    serve: Served
    function: str  # the function's name, which orders the routes, as the host orders them


@api()
def execute_batch(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """POST data/v9.2/$batch: multipart/mixed requests and change sets; 200 with an answer for each request."""
    odata.check_options(req.params, ())
    prefs = parse_prefer(req.headers.get("Prefer"))
    items = read_batch(req.headers.get("Content-Type") or "", req.get_body() or b"")
    answers = run(items, lambda inner, created: send(svc, req, inner, created),
                  continue_on_error=prefs.continue_on_error)
    content_type, body = write_batch(answers)
    applied = {"Preference-Applied": CONTINUE_TOKENS[0]} if prefs.continue_on_error else {}
    return func.HttpResponse(body, status_code=200, headers={"OData-Version": "4.0", "Content-Type": content_type,
                                                            **applied})


Send = Callable[[InnerRequest, Mapping[str, str]], InnerResponse]


def run(items: list[InnerRequest | ChangeSet], send: Send, *, continue_on_error: bool
        ) -> list[InnerResponse | list[InnerResponse]]:
    """Each request in order, a change set's answers together; the batch stops at the first failure unless
    ``continue_on_error``."""
    answers: list[InnerResponse | list[InnerResponse]] = []
    for item in items:
        answer = _run_change_set(item, send) if isinstance(item, ChangeSet) else send(item, {})
        answers.append(answer)
        if not continue_on_error and any(a.status >= 400 for a in (answer if isinstance(answer, list) else [answer])):
            break
    return answers


def _run_change_set(change_set: ChangeSet, send: Send) -> list[InnerResponse]:
    """Its requests in order, until one fails; those after it are not run (424). ``$n`` in a URL is where the
    request with Content-ID n created something."""
    answers: list[InnerResponse] = []
    created: dict[str, str] = {}
    for n, request in enumerate(change_set.requests):
        answer = send(request, created)
        answers.append(answer)
        if answer.status >= 400:
            return answers + [_not_run(later, request) for later in change_set.requests[n + 1:]]
        where = answer.header("OData-EntityId") or answer.header("Location")
        if request.content_id and where:
            created[request.content_id] = where
    return answers


def _not_run(request: InnerRequest, failed: InnerRequest) -> InnerResponse:
    which = f"request {failed.content_id}" if failed.content_id else "an earlier request"
    message = (f"Not run: {which} of its change set failed. The requests before it ran and stay done (a change "
               "set here is not one transaction).")
    response = error_response(424, "FailedDependency", message)
    return _answer(response, request.content_id)


def send(svc: Services, batch: func.HttpRequest, inner: InnerRequest, created: Mapping[str, str]) -> InnerResponse:
    """Serve one request of the batch as if it had been sent alone (its errors answered, never raised)."""
    try:
        url = resolve(batch.url, inner.url, created)
        parts = urlsplit(url)
        serve, route_params = _route(svc.settings.route_prefix, inner.method, unquote(parts.path))
        request = func.HttpRequest(inner.method, url, headers=_headers(batch.headers, inner.headers),
                                   params=dict(parse_qsl(parts.query, keep_blank_values=True)),
                                   route_params=route_params, body=inner.body)
        return _answer(serve(request), inner.content_id)
    except Exception as exc:  # a URL or route the batch cannot serve: that request's answer
        return _answer(response_for(exc), inner.content_id)


def resolve(batch_url: str, url: str, created: Mapping[str, str]) -> str:
    """The request's URL on the batch's own scheme and host: a ``$n`` reference replaced by what request n
    created, a path or a URL relative to the service root made absolute, spaces and the like encoded. The
    host of an absolute URL is the batch's (a batch reaches this app only)."""
    if url.startswith("$"):
        content_id, _, rest = url[1:].partition("/")
        if content_id not in created:
            raise InvalidRequest(f"${content_id[:32]} refers to no earlier request of this change set that created "
                                 "something (give that request Content-ID: n, and refer to it as $n).")
        url = created[content_id] + (f"/{rest}" if rest else "")
    encoded = quote(url, safe=_URL_SAFE)
    own = urlsplit(batch_url)
    absolute = urlsplit(urljoin(batch_url, encoded))
    return absolute._replace(scheme=own.scheme, netloc=own.netloc, fragment="").geturl()


def _route(prefix: str, method: str, path: str) -> tuple[Served, dict[str, str]]:
    """The endpoint serving ``method path`` and its route values: the first route that matches, in the order of
    the functions' names, as the host tries them (devhost.routing); NotFound otherwise."""
    relative = path.lstrip("/")
    if prefix and relative.lower().startswith(f"{prefix.lower()}/"):
        relative = relative[len(prefix) + 1:]
    matches = [(route, m.groupdict()) for route in _routes()
               if method in route.methods and (m := route.pattern.fullmatch(relative))]
    if not matches:  # as the host: a path that matches only with another method does not match
        raise NotFound(f"Nothing in a batch is served at {method} '/{path.lstrip('/')[:200]}': a batch holds Web "
                       f"API requests, under /{prefix}/{WEB_API}/, with the methods they take alone.")
    route, values = matches[0]
    return route.serve, values


@functools.cache
def _routes() -> tuple[Route, ...]:
    """The Web API's routes, from the app's own table (imported here: the table registers this endpoint)."""
    from ..functions.http_api import HTTP_FUNCTIONS

    def pattern(template: str) -> re.Pattern[str]:
        parts = re.split(r"\{([A-Za-z_]\w*)\}", template)  # literal text, then a parameter's name, in turn
        return re.compile("".join(f"(?P<{p}>[^/]+)" if n % 2 else re.escape(p) for n, p in enumerate(parts)) + "/?",
                          re.IGNORECASE | re.DOTALL)

    routes = (Route(pattern(route), frozenset(methods), handler_of(function), name)
              for name, route, methods, function in HTTP_FUNCTIONS
              if (route == WEB_API or route.startswith(f"{WEB_API}/")) and function is not execute_batch)
    return tuple(sorted(routes, key=lambda route: route.function.lower()))


def _headers(batch: Mapping[str, str], inner: Mapping[str, str]) -> dict[str, str]:
    """The request's own headers, but those the platform sets, which come from the batch."""
    own = {k: v for k, v in inner.items() if not k.lower().startswith(PLATFORM_HEADERS)}
    return own | {k.lower(): v for k, v in batch.items() if k.lower().startswith(PLATFORM_HEADERS)}


def _answer(response: func.HttpResponse, content_id: str | None) -> InnerResponse:
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-type"]
    body = response.get_body() or b""
    kind = response.headers.get("Content-Type")
    if kind is None and body:
        kind = f"{response.mimetype or JSON}; charset={response.charset or 'utf-8'}"
    return InnerResponse(response.status_code, [*([("Content-Type", kind)] if kind else []), *headers], body,
                         content_id)
