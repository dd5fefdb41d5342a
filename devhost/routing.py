"""ASP.NET-style route templates, as the Functions host uses for HTTP triggers.

Pure code (no I/O). Supported: literal text and ``{name}`` parameters mixed in
one segment (``backgroundoperations({id})``), optional ``{name?}``, defaults
``{name=value}``, catch-all ``{*rest}``, inline constraints ``{id:guid}``.
Literals match case-insensitively; parameter values are percent-decoded.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote


class RouteTemplateError(ValueError):
    """A route template cannot be parsed or uses an unknown constraint."""


@dataclass(frozen=True)
class Literal:
    """Literal text inside a segment."""

    text: str


@dataclass(frozen=True)
class Parameter:
    """A ``{name...}`` part of a segment."""

    name: str
    constraints: tuple[tuple[str, str | None], ...] = ()
    optional: bool = False
    catch_all: bool = False
    default: str | None = None


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
        return True
    except ValueError:
        return False


def _guid(text: str) -> bool:
    try:
        uuid.UUID(text.strip("{}()"))
        return True
    except ValueError:
        return False


def _ints(args: str | None) -> list[int]:
    return [int(a) for a in (args or "").split(",") if a.strip()]


# Inline constraints of ASP.NET Core routing (RouteOptions' constraint map).
_CONSTRAINTS: dict[str, Callable[[str, str | None], bool]] = {
    "int": lambda v, a: re.fullmatch(r"[+-]?\d+", v) is not None and -2**31 <= int(v) < 2**31,
    "long": lambda v, a: re.fullmatch(r"[+-]?\d+", v) is not None and -2**63 <= int(v) < 2**63,
    "bool": lambda v, a: v.lower() in ("true", "false"),
    "guid": lambda v, a: _guid(v),
    "alpha": lambda v, a: re.fullmatch(r"[A-Za-z]+", v) is not None,
    "double": lambda v, a: _number(v),
    "float": lambda v, a: _number(v),
    "decimal": lambda v, a: _number(v),
    "datetime": lambda v, a: _datetime(v),
    "min": lambda v, a: _number(v) and float(v) >= _ints(a)[0],
    "max": lambda v, a: _number(v) and float(v) <= _ints(a)[0],
    "range": lambda v, a: _number(v) and _ints(a)[0] <= float(v) <= _ints(a)[1],
    "minlength": lambda v, a: len(v) >= _ints(a)[0],
    "maxlength": lambda v, a: len(v) <= _ints(a)[0],
    "length": lambda v, a: (len(v) == _ints(a)[0] if len(_ints(a)) == 1
                            else _ints(a)[0] <= len(v) <= _ints(a)[1]),
    "regex": lambda v, a: re.search(a or "", v, re.IGNORECASE) is not None,
}


def _parse_parameter(text: str) -> Parameter:
    catch_all = text.startswith("*")
    text = text.lstrip("*")
    m = re.match(r"[^:?=]+", text)
    if not m:
        raise RouteTemplateError(f"empty parameter name in '{{{text}}}'")
    name, rest = m.group(0), text[m.end():]
    constraints = []
    while rest.startswith(":"):
        cm = re.match(r":(\w+)", rest)
        if not cm:
            raise RouteTemplateError(f"bad constraint in '{{{text}}}'")
        cname, rest, args = cm.group(1).lower(), rest[cm.end():], None
        if rest.startswith("("):
            depth, i = 0, 0
            for i, ch in enumerate(rest):  # noqa: B007 - i is read after the loop
                depth += ch == "("
                depth -= ch == ")"
                if depth == 0:
                    break
            if depth:
                raise RouteTemplateError(f"unbalanced '(' in '{{{text}}}'")
            args, rest = rest[1:i], rest[i + 1:]
        if cname not in _CONSTRAINTS:
            raise RouteTemplateError(f"unknown route constraint '{cname}' in '{{{text}}}'")
        constraints.append((cname, args))
    optional, default = False, None
    if rest == "?":
        optional = True
    elif rest.startswith("="):
        default = rest[1:]
    elif rest:
        raise RouteTemplateError(f"cannot parse '{{{text}}}'")
    return Parameter(name, tuple(constraints), optional, catch_all, default)


def _parse_segment(segment: str) -> list:
    parts: list = []
    literal, i = "", 0
    while i < len(segment):
        ch = segment[i]
        if segment.startswith("{{", i) or segment.startswith("}}", i):
            literal += ch  # escaped brace
            i += 2
        elif ch == "{":
            end = segment.find("}", i)
            if end < 0:
                raise RouteTemplateError(f"unclosed '{{' in segment '{segment}'")
            if literal:
                parts.append(Literal(literal))
                literal = ""
            parts.append(_parse_parameter(segment[i + 1:end]))
            i = end + 1
        elif ch == "}":
            raise RouteTemplateError(f"unmatched '}}' in segment '{segment}'")
        else:
            literal += ch
            i += 1
    if literal:
        parts.append(Literal(literal))
    if not parts:
        raise RouteTemplateError("empty segment (double '/') in route template")
    for p in parts:
        if isinstance(p, Parameter) and (p.optional or p.catch_all or p.default) and len(parts) > 1:
            raise RouteTemplateError(
                f"optional, default and catch-all parameters must be a whole segment: '{segment}'")
    return parts


@dataclass
class RouteTemplate:
    """A parsed route template that matches request paths."""

    template: str
    segments: list = field(init=False)
    _regex: re.Pattern = field(init=False, repr=False)
    _groups: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        text = self.template.strip()
        text = text[2:] if text.startswith("~/") else text
        text = text.strip("/")
        self.segments = [_parse_segment(s) for s in text.split("/")] if text else []
        self._groups = {}
        pattern = ""
        for index, parts in enumerate(self.segments):
            last = parts[-1]
            if isinstance(last, Parameter) and last.catch_all:
                if index != len(self.segments) - 1:
                    raise RouteTemplateError("a catch-all parameter must be the last segment")
                pattern += f"(?:/(?P<{self._group(last)}>.*))?"
            elif isinstance(last, Parameter) and (last.optional or last.default is not None):
                pattern += f"(?:/(?P<{self._group(last)}>[^/]+))?"
            else:
                pattern += "/" + "".join(
                    re.escape(p.text) if isinstance(p, Literal) else f"(?P<{self._group(p)}>[^/]+)"
                    for p in parts)
        self._regex = re.compile(f"^{pattern}/?$", re.IGNORECASE | re.DOTALL)

    def _group(self, parameter: Parameter) -> str:
        name = f"g{len(self._groups)}"
        self._groups[name] = parameter
        return name

    def match(self, path: str) -> dict[str, str] | None:
        """Route values if ``path`` (already decoded, starting with '/')
        matches, including every constraint; otherwise None."""
        m = self._regex.match(path if path.startswith("/") else "/" + path)
        if not m:
            return None
        values: dict[str, str] = {}
        for group, parameter in self._groups.items():
            value = m.group(group)
            if value is None or value == "":
                if parameter.default is not None:
                    values[parameter.name] = parameter.default
                continue
            if not all(_CONSTRAINTS[c](value, a) for c, a in parameter.constraints):
                return None
            values[parameter.name] = value
        return values


def decode_path(raw_path: str) -> str:
    """Percent-decode a request path, keeping an encoded '/' inside a segment
    (ASP.NET Core's PathString does the same)."""
    return unquote(re.sub(r"%2[fF]", "%252F", raw_path))


@dataclass(frozen=True)
class Route:
    """A function's route: template (prefix included), allowed methods (None
    means any), and whatever the caller wants back on a match."""

    template: RouteTemplate
    methods: frozenset[str] | None
    target: Any


def _precedence(x: Route, y: Route) -> int:
    # WebJobsRouteBuilder.RouteComparison (azure-webjobs-sdk-extensions):
    # literal before parameter segment by segment, more inline constraints
    # first, literals ordered case-insensitively, longer templates first.
    xs, ys = x.template.segments, y.template.segments
    for i, xseg in enumerate(xs):
        if len(ys) <= i:
            return -1
        a, b = xseg[0], ys[i][0]
        a_param, b_param = isinstance(a, Parameter), isinstance(b, Parameter)
        if a_param != b_param:
            return 1 if a_param else -1
        if a_param:
            if len(a.constraints) != len(b.constraints):
                return -1 if len(a.constraints) > len(b.constraints) else 1
        elif a.text.lower() != b.text.lower():
            return -1 if a.text.lower() < b.text.lower() else 1
    return 1 if len(ys) > len(xs) else 0


class Router:
    """Finds the route for a request. The HTTP method is a route constraint,
    as in the host (HttpMethodRouteConstraint), so a path that matches only
    with another method does not match at all: the caller answers 404."""

    def __init__(self, routes: Iterable[Route]):
        self.routes = sorted(routes, key=functools.cmp_to_key(_precedence))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The first route (in precedence order) matching method and decoded path."""
        for route in self.routes:
            if route.methods is not None and method.upper() not in route.methods:
                continue
            values = route.template.match(path)
            if values is not None:
                return route, values
        return None
