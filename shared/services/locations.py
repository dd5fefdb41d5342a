"""The absolute URLs the API hands out."""

from __future__ import annotations

from ..domain.operation import Operation
from ..settings import Settings


def api_url(base: str, route_prefix: str, path: str) -> str:
    """``<base>/<route prefix>/<path>``: an app URL (the host's route prefix may be empty)."""
    prefix = f"/{route_prefix}" if route_prefix else ""
    return f"{base}{prefix}/{path}"


def status_location(settings: Settings, op: Operation) -> str:
    """``<base>/api/backgroundoperation/<id>``: the status monitor, where Location points."""
    return api_url(op.baseurl, settings.route_prefix, f"backgroundoperation/{op.id}")
