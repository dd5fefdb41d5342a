"""HTTP-triggered functions and the admin endpoint, a thread per connection. One log line per request (method,
path, status, duration): never a query string, header or body, which may carry secrets. With a function key set,
a route not anonymous and the admin endpoint answer 401 (no body) unless the request carries it in
``x-functions-key`` or ``code``, as the host checks keys; with none, nothing is checked, as with Core Tools."""

from __future__ import annotations

import hmac
import json
import logging
import ssl
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
    """``invoke_http(spec, request)`` runs a function; ``run_admin(name, input)`` answers the admin endpoint."""

    daemon_threads = allow_reuse_address = True
    request_queue_size = 512  # socketserver's 5 resets connections under a burst; Kestrel takes far more

    def __init__(self, address: tuple[str, int], router: Router, invoke_http: Callable[[Any, func.HttpRequest], Any],
                 run_admin: Callable[[str, str], int], function_key: str | None = None,
                 tls: ssl.SSLContext | None = None):
        self.router, self.invoke_http, self.run_admin, self.function_key = router, invoke_http, run_admin, function_key
        self.scheme = "https" if tls else "http"
        super().__init__(address, RequestHandler)
        if tls:  # each connection's handshake happens in its own thread (RequestHandler.setup), not in accept
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("A connection from %s failed (a TLS handshake, say).", client_address[0], exc_info=True)

    def authorized(self, auth_level: Any, headers: dict[str, str], params: dict[str, str]) -> bool:
        """Whether a request may call a function of this authLevel (no key set: always)."""
        if self.function_key is None or str(auth_level).lower().endswith("anonymous"):
            return True
        # AuthenticationLevelHandler: the header, when present (even empty), is the only key looked at.
        offered = headers[KEY_HEADER] if KEY_HEADER in headers else params.get(KEY_PARAMETER)
        return offered is not None and hmac.compare_digest(offered.encode(), self.function_key.encode())


def _valid_host(host: str | None) -> bool:
    """Whether a Host header is a host[:port] Kestrel accepts (none is allowed, for HTTP/1.0)."""
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
    disable_nagle_algorithm = True  # else a kept-alive response's body waits ~40 ms for the delayed ACK
    server_version = "devhost"
    server: FunctionsHttpServer

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)  # a client that never finishes its handshake holds only its own thread
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()

    def __getattr__(self, name: str) -> Any:
        # Any method, as Kestrel takes any token: TRACE, PROPFIND... are routed too (a 404 where no function
        # allows them), not answered 501 by http.server.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # the default logs the query string
        pass

    def _dispatch(self) -> None:
        started, raw_path, status = time.monotonic(), urlsplit(self.path).path or "/", 500
        try:
            status = self._respond(raw_path, self._read_body())
        except Exception:
            self._send(500, {}, b"")
        finally:
            log.info("%s %s -> %d (%d ms)", self.command, raw_path, status, (time.monotonic() - started) * 1000)

    def _read_body(self) -> bytes:
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""
        chunks: list[bytes] = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)

    def _respond(self, raw_path: str, body: bytes) -> int:
        if raw_path.lower().startswith(ADMIN_PREFIX):
            return self._admin(raw_path[len(ADMIN_PREFIX):], body)
        match = self.server.router.match(self.command, decode_path(raw_path))
        if match is None:
            return self._send(404, {}, b"")
        if not _valid_host(self.headers.get("Host")):
            return self._send(400, {}, b"")  # Kestrel: "Bad Request: Invalid Host header"
        (route, route_params), headers, params = match, self._headers(), self._query()
        if not self.server.authorized(route.target.trigger.auth_level, headers, params):
            return self._send(401, {}, b"")
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = func.HttpRequest(method=self.command, url=f"{self.server.scheme}://{host}{self.path}",
                                   headers=headers, params=params, route_params=route_params, body=body)
        return self._send_result(self.server.invoke_http(route.target, request))  # raising: a 500 (_dispatch)

    def _query(self) -> dict[str, str]:  # the first of a repeated parameter wins, as the host's Query.First()
        return dict(reversed(parse_qsl(urlsplit(self.path).query, keep_blank_values=True)))

    def _headers(self) -> dict[str, str]:  # a repeated header's values joined with ", ", as ASP.NET Core does
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            headers[name.lower()] = f"{headers[name.lower()]}, {value}" if name.lower() in headers else value
        return headers

    def _send_result(self, result: Any) -> int:
        if result is None:
            return self._send(204, {}, b"")
        if not isinstance(result, (func.HttpResponse, str)):
            log.error("HTTP function returned %s; expected func.HttpResponse or str", type(result).__name__)
            return self._send(500, {}, b"")
        # The worker's own converter: Content-Type from mimetype and charset.
        datum = HttpResponseConverter.encode(result, expected_type=None)
        if datum.type == "string":
            return self._send(200, {"Content-Type": "text/plain; charset=utf-8"}, datum.value.encode())
        value, body = datum.value, datum.value["body"].value or b""
        # An empty Content-Type means none (the host's RawScriptResult; ASP.NET Core drops an empty header).
        headers = {name: d.value for name, d in value["headers"].items() if d.value or name.lower() != "content-type"}
        return self._send(int(value["status_code"].value), headers,
                          body if isinstance(body, bytes) else str(body).encode())

    def _admin(self, name: str, body: bytes) -> int:
        # AdminController.Invoke: POST only; the key is checked before the body is read or the name looked up
        # ([Authorize(Policy = AdminAuthLevel)]); a body that is not an invocation is 400, an unknown function
        # 404; otherwise the function starts in the background: 202.
        if self.command != "POST" or "/" in name.strip("/"):
            return self._send(404, {}, b"")
        if not self.server.authorized("admin", self._headers(), self._query()):
            return self._send(401, {}, b"")
        try:
            invocation = json.loads(body or b"null")
        except ValueError:
            invocation = None
        if not isinstance(invocation, dict):
            return self._send(400, {}, b"")
        payload = invocation.get("input")
        payload = payload if payload is None or isinstance(payload, str) else json.dumps(payload)
        return self._send(self.server.run_admin(name.strip("/"), payload or ""), {}, b"")

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
