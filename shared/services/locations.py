"""The absolute URLs the API hands out."""

from __future__ import annotations

from ..domain.operation import Operation
from ..settings import Settings


def status_location(settings: Settings, op: Operation) -> str:
    """``<base>/api/backgroundoperation/<id>``: the status monitor, where Location points."""
    prefix = f"/{settings.route_prefix}" if settings.route_prefix else ""
    return f"{op.baseurl}{prefix}/backgroundoperation/{op.id}"
