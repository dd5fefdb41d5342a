"""Every HTTP route of the app is reached in Azure: the Functions host tries routes in the order of their functions'
names and the first match wins, however specific a later route is (devhost.routing says where the host does so).
A route that takes any name (data/v9.2/{name}) would otherwise answer for the routes it shadows."""

from __future__ import annotations

import re

from helpers import http_functions

from devhost.routing import Route, Router, RouteTemplate


def _path(route: str) -> str:
    """A request path the route matches: each parameter given a value no literal route has."""
    return "/api/" + re.sub(r"\{[A-Za-z_]\w*\}", "p1", route)


def test_each_route_is_the_one_the_host_picks_for_its_own_paths():
    functions = http_functions()
    router = Router(Route(RouteTemplate(f"api/{route}"), frozenset(methods), name, name)
                    for name, route, methods in functions)
    shadowed = [(name, method, _path(route), router.match(method, _path(route))[0].name)
                for name, route, methods in functions for method in methods
                if router.match(method, _path(route))[0].name != name]
    assert not shadowed, f"(function, method, path, the function the host would run instead): {shadowed}"
