"""Route templates and route selection (pure)."""

import pytest

from devhost.routing import Route, Router, RouteTemplate, RouteTemplateError, decode_path


def test_literal_and_parameter_mixed_in_one_segment():
    t = RouteTemplate("api/data/v9.2/backgroundoperations({id})")
    assert t.match("/api/data/v9.2/backgroundoperations(6f1c-1)") == {"id": "6f1c-1"}
    assert t.match("/api/data/v9.2/backgroundoperations()") is None
    assert t.match("/api/data/v9.2/backgroundoperations") is None


def test_literals_match_case_insensitively_and_values_keep_their_case():
    t = RouteTemplate("api/Things/{name}")
    assert t.match("/API/things/MixedCase") == {"name": "MixedCase"}


def test_trailing_slash_is_ignored():
    assert RouteTemplate("api/things").match("/api/things/") == {}


def test_encoded_slash_stays_inside_a_segment():
    path = decode_path("/x/a%2Fb%20c")
    assert RouteTemplate("x/{v}").match(path) == {"v": "a%2Fb c"}


@pytest.mark.parametrize("bad", ["x/{id", "x/id}", "x//y", "x/{id}{id}"])
def test_invalid_templates_are_rejected(bad):
    with pytest.raises(RouteTemplateError):
        RouteTemplate(bad)


@pytest.mark.parametrize("unsupported", ["x/{id:guid}", "x/{id?}", "x/{page=1}", "files/{*path}"])
def test_route_syntax_the_app_does_not_use_is_refused_rather_than_matched_wrongly(unsupported):
    with pytest.raises(RouteTemplateError):
        RouteTemplate(unsupported)


def _router(*specs):
    return Router(Route(RouteTemplate(t), frozenset(m) if m else None, name, name)
                  for name, t, m in specs)


def test_the_first_function_by_name_wins_however_specific_a_later_route_is_as_in_the_host():
    # azure-functions-host#9876: "Products/{id}" of a function named Details shadows "Products/List" of List.
    router = _router(("List", "api/Products/List", None), ("Details", "api/Products/{id}", None))
    assert router.match("GET", "/api/Products/List")[0].target == "Details"
    router = _router(("a_List", "api/Products/List", None), ("Details", "api/Products/{id}", None))
    assert router.match("GET", "/api/Products/List")[0].target == "a_List"  # names compared ignoring case
    assert router.match("GET", "/api/Products/7")[0].target == "Details"


def test_method_is_a_route_constraint_so_a_wrong_method_finds_no_route():
    router = _router(("get", "api/x", ["GET"]), ("post", "api/x", ["POST"]))
    assert router.match("POST", "/api/x")[0].target == "post"
    assert router.match("DELETE", "/api/x") is None
