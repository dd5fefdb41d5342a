"""HTTP front end: HTTP-triggered functions and the admin endpoint.

One thread per connection (ThreadingHTTPServer). Logs one line per request -
method, path without the query string, status, duration - and never query
strings, headers or bodies, which may carry secrets (SAS signatures, keys).

With a function key configured, a route whose authLevel is not anonymous
answers 401 (no body) unless the request carries that key in the
``x-functions-key`` header or the ``code`` query parameter, as the Functions
host's key check does; without one, nothing is checked, as with Core Tools.
The admin endpoint then needs the same key, standing in for the master key.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from azure.functions.http import HttpResponseConverter

from .routing import Router, decode_path

log = logging.getLogger("devhost.http")

ADMIN_PREFIX = "/admin/functions/"
KEY_HEADER, KEY_PARAMETER = "x-functions-key", "code"


class FunctionsHttpServer(ThreadingHTTPServer):
    """The HTTP server; ``invoke_http(spec, request)`` runs a function and
    ``run_admin(name, input)`` answers the admin endpoint with a status."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 resets connections under a burst of
    # concurrent clients; Kestrel (the real host's server) accepts far more.
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], router: Router,
                 invoke_http: Callable[[Any, func.HttpRequest], Any],
                 run_admin: Callable[[str, str], int], function_key: str | None = None):
        self.router, self.invoke_http, self.run_admin = router, invoke_http, run_admin
        self.function_key = function_key
        super().__init__(address, RequestHandler)

    def authorized(self, auth_level: Any, headers: dict[str, str], params: dict[str, str]) -> bool:
        """Whether a request may call a function of this authLevel (no key set: always)."""
        if self.function_key is None or str(auth_level).lower().endswith("anonymous"):
            return True
        # AuthenticationLevelHandler (azure-functions-host): the header, when present, is the
        # only key looked at, even if empty; the query string only without it.
        offered = headers[KEY_HEADER] if KEY_HEADER in headers else params.get(KEY_PARAMETER)
        return offered is not None and hmac.compare_digest(offered.encode(), self.function_key.encode())


def _valid_host(host: str | None) -> bool:
    """Whether a Host header is a host[:port] Kestrel would accept (absent is allowed for HTTP/1.0)."""
    if host is None:
        return True
    try:
        parts = urlsplit(f"http://{host}")
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return bool(parts.hostname) and not any(c in host for c in "/?#@ \t")


class RequestHandler(BaseHTTPRequestHandler):
    """Maps one HTTP request to a function (or the admin endpoint)."""

    protocol_version = "HTTP/1.1"  # keep-alive; every response has Content-Length
    # Headers and body go out in two writes; with Nagle on, the body waits for
    # the client's delayed ACK (~40 ms on every kept-alive response).
    disable_nagle_algorithm = True
    server_version = "devhost"
    server: FunctionsHttpServer

    def do_GET(self) -> None:
        self._dispatch()

    def __getattr__(self, name: str) -> Any:
        # Any method, as Kestrel takes any token: TRACE, PROPFIND... go to routing too (and so
        # to 404 where no function allows them), not to http.server's 501.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        # The default logs the request line, query string included.
        pass

    def _dispatch(self) -> None:
        started = time.monotonic()
        raw_path = urlsplit(self.path).path or "/"
        status = 500
        try:
            body = self._read_body()
            status = self._respond(raw_path, body)
        except Exception:
            self._send(500, {}, b"")
        finally:
            log.info("%s %s -> %d (%d ms)", self.command, raw_path, status,
                     (time.monotonic() - started) * 1000)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _respond(self, raw_path: str, body: bytes) -> int:
        if raw_path.lower().startswith(ADMIN_PREFIX):
            return self._admin(raw_path[len(ADMIN_PREFIX):], body)
        match = self.server.router.match(self.command, decode_path(raw_path))
        if match is None:
            return self._send(404, {}, b"")
        route, route_params = match
        if not _valid_host(self.headers.get("Host")):
            return self._send(400, {}, b"")  # Kestrel: "Bad Request: Invalid Host header"
        headers, params = self._headers(), self._query()
        if not self.server.authorized(route.target.trigger.auth_level, headers, params):
            return self._send(401, {}, b"")
        request = func.HttpRequest(
            method=self.command,
            url=f"http://{self.headers.get('Host') or '{}:{}'.format(*self.server.server_address[:2])}"
                f"{self.path}",
            headers=headers,
            params=params,
            route_params=route_params,
            body=body,
        )
        try:
            result = self.server.invoke_http(route.target, request)
        except Exception:
            return self._send(500, {}, b"")
        return self._send_result(result)

    def _query(self) -> dict[str, str]:
        # The first of a repeated parameter wins, as the host's Query.First() does.
        return dict(reversed(parse_qsl(urlsplit(self.path).query, keep_blank_values=True)))

    def _headers(self) -> dict[str, str]:
        # Repeated headers are joined with ", ", as ASP.NET Core presents them.
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return headers

    def _send_result(self, result: Any) -> int:
        if result is None:
            return self._send(204, {}, b"")
        if not isinstance(result, (func.HttpResponse, str)):
            log.error("HTTP function returned %s; expected func.HttpResponse or str",
                      type(result).__name__)
            return self._send(500, {}, b"")
        # The worker's own converter: Content-Type from mimetype/charset. (The app sets no cookies.)
        datum = HttpResponseConverter.encode(result, expected_type=None)
        if datum.type == "string":
            return self._send(200, {"Content-Type": "text/plain; charset=utf-8"},
                              datum.value.encode("utf-8"))
        value = datum.value
        # An empty Content-Type means none: the host's RawScriptResult sets HttpResponse.ContentType from it, and
        # ASP.NET Core removes the header for an empty value (a 204 is sent so).
        headers = {name: d.value for name, d in value["headers"].items()
                   if d.value or name.lower() != "content-type"}
        body = value["body"].value or b""
        return self._send(int(value["status_code"].value), headers,
                          body if isinstance(body, bytes) else str(body).encode("utf-8"))

    def _admin(self, name: str, body: bytes) -> int:
        # AdminController.Invoke (azure-functions-host): POST only, a null
        # invocation body is 400, an unknown function 404, otherwise the
        # function is started in the background and the answer is 202.
        if self.command != "POST" or "/" in name.strip("/"):
            return self._send(404, {}, b"")
        # [Authorize(Policy = AdminAuthLevel)] runs before the body is parsed or the name looked
        # up: without the key nothing runs and even an unknown function is 401.
        if not self.server.authorized("admin", self._headers(), self._query()):
            return self._send(401, {}, b"")
        try:
            invocation = json.loads(body or b"null")
        except ValueError:
            invocation = None
        if not isinstance(invocation, dict):
            return self._send(400, {}, b"")
        payload = invocation.get("input")
        if payload is not None and not isinstance(payload, str):
            payload = json.dumps(payload)
        status = self.server.run_admin(name.strip("/"), payload or "")
        return self._send(status, {}, b"")

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> int:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        return status
