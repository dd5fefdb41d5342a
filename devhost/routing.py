"""Route templates as the Functions host matches them, as far as the app uses them (pure): a segment is literal
text and ``{name}`` parameters, mixed if need be (``backgroundoperations({id})``); literals match whatever
their case, values are percent-decoded. The rest of ASP.NET's syntax (``{id?}``, ``{*rest}``, ``{id:guid}``...)
is refused when the app loads, rather than matched wrongly."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

_PART = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}|([^{}]+)")


class RouteTemplateError(ValueError):
    """A route template this host cannot parse or does not support."""


@dataclass
class RouteTemplate:
    """A parsed route template; ``segments`` hold literal text (str) and parameter names (``{name}``)."""

    template: str
    segments: list[list[str]] = field(init=False)
    _regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        text = self.template.strip().removeprefix("~/").strip("/")
        self.segments = [self._parse(segment) for segment in text.split("/")] if text else []
        pattern = "".join("/" + "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p)
                                        for p in parts) for parts in self.segments)
        try:
            self._regex = re.compile(f"^{pattern}/?$", re.IGNORECASE | re.DOTALL)
        except re.error as e:  # a parameter named twice
            raise RouteTemplateError(f"route '{self.template}': {e}") from None

    def _parse(self, segment: str) -> list[str]:
        parts = [m.group(0) for m in _PART.finditer(segment)]
        if not segment or "".join(parts) != segment:
            raise RouteTemplateError(f"route '{self.template}': segment '{segment}' is not literal text and "
                                     "{name} parameters (the local host supports no other route syntax)")
        return parts

    def match(self, path: str) -> dict[str, str] | None:
        """Route values if ``path`` (already decoded) matches; otherwise None."""
        m = self._regex.match(path if path.startswith("/") else "/" + path)
        return None if m is None else m.groupdict()


def decode_path(raw_path: str) -> str:
    """A request path percent-decoded, an encoded '/' kept inside its segment (as ASP.NET Core's PathString)."""
    return unquote(re.sub(r"%2[fF]", "%252F", raw_path))


@dataclass(frozen=True)
class Route:
    """A function's route: template (prefix included), methods (None: any), what a match gives back, and the
    function's name, which orders the routes."""

    template: RouteTemplate
    methods: frozenset[str] | None
    target: Any
    name: str = ""


class Router:
    """Finds the route for a request as the Functions host does: routes in the order of their functions' names
    (FunctionMetadataManager sorts them, OrdinalIgnoreCase, and WebScriptHostHttpRoutesManager maps them in that
    order into one RouteCollection), the first whose template matches wins, however specific a later one is
    (azure-functions-host#9876). The method is a route constraint (HttpMethodRouteConstraint): a path that
    matches only with another method does not match (404)."""

    def __init__(self, routes: Iterable[Route]):
        self.routes = sorted(routes, key=lambda route: route.name.lower())

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The first route (in function-name order) matching method and decoded path."""
        for route in self.routes:
            if route.methods is not None and method.upper() not in route.methods:
                continue
            values = route.template.match(path)
            if values is not None:
                return route, values
        return None
