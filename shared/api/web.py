"""The System Jobs page: static HTML, CSS and JavaScript shipped in the package, served by the
app itself. Anonymous, as it holds no data: everything it shows it reads from the API, with the
operator's own key or sign-in, so it can show and do exactly what the API allows."""

from __future__ import annotations

from pathlib import Path

import azure.functions as func

from .errors import error_response
from .handling import in_http_pool

WEB = Path(__file__).resolve().parent.parent / "web"
FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
PAGE = "index.html"
# Nothing from anywhere else, no inline script, no framing; no key in a Referer.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@in_http_pool  # as every HTTP function: long handlers holding the worker's threads never hold the page up
def page(req: func.HttpRequest) -> func.HttpResponse:
    """GET systemjobs: the page."""
    return _file(PAGE, "text/html; charset=utf-8")


@in_http_pool
def asset(req: func.HttpRequest) -> func.HttpResponse:
    """GET systemjobs/{file}: its script and style sheet, and nothing else."""
    name = req.route_params.get("file", "")
    if name not in FILES:
        return error_response(404, "NotFound", f"The System Jobs page has no file '{name[:64]}'.")
    return _file(name, FILES[name])


def _file(name: str, mimetype: str) -> func.HttpResponse:
    return func.HttpResponse((WEB / name).read_bytes(), status_code=200, mimetype=mimetype.split(";")[0],
                             charset="utf-8", headers=HEADERS)
