"""Function keys (DEVHOST_FUNCTION_KEY): checked like the Functions host checks them, or not at all."""

import pytest
import requests
from helpers import wait_until

KEY = "dev-key-0123456789"


@pytest.fixture(scope="module")
def keyed(make_host):
    return make_host(env={"DEVHOST_FUNCTION_KEY": KEY})


def run_tick(host, **how) -> requests.Response:
    """Ask the admin endpoint to run the ``tick`` timer now."""
    return requests.post(f"{host.base}/admin/functions/tick", json={"input": ""}, timeout=5, **how)


def tick_runs(host) -> int:
    """How many times ``tick`` has run on this host (its own record file)."""
    return len(host.records("tick"))


@pytest.mark.parametrize("how", [{}, {"params": {"code": "wrong"}}, {"headers": {"x-functions-key": "wrong"}},
                                 {"params": {"code": ""}}])
def test_a_function_level_route_without_the_key_is_401_with_no_body_and_the_function_never_runs(keyed, how):
    response = requests.get(f"{keyed.base}/api/things(k1)", timeout=5, **how)
    assert response.status_code == 401 and response.content == b""


def test_the_key_opens_the_route_from_the_code_parameter_or_the_header(keyed):
    by_query = requests.get(f"{keyed.base}/api/things(k2)", params={"code": KEY}, timeout=5)
    by_header = requests.get(f"{keyed.base}/api/things(k3)", headers={"x-functions-key": KEY}, timeout=5)
    assert by_query.status_code == by_header.status_code == 200
    assert by_query.json()["params"] == {"code": KEY}  # the app sees the query as sent, key included


def test_the_header_takes_precedence_over_the_code_parameter_as_in_the_host(keyed):
    wrong_header = requests.get(f"{keyed.base}/api/things(k7)", params={"code": KEY},
                                headers={"x-functions-key": "wrong"}, timeout=5)
    empty_header = requests.get(f"{keyed.base}/api/things(k8)", params={"code": KEY},
                                headers={"x-functions-key": ""}, timeout=5)
    assert wrong_header.status_code == empty_header.status_code == 401


def test_an_anonymous_route_needs_no_key(keyed):
    response = requests.get(f"{keyed.base}/api/open", timeout=5)
    assert response.status_code == 200 and response.text == "open"


def test_the_key_never_reaches_the_host_log(keyed):
    before = tick_runs(keyed)
    requests.get(f"{keyed.base}/api/things(k4)", params={"code": KEY}, timeout=5)
    requests.get(f"{keyed.base}/api/things(k5)", params={"code": "wrong-guess"}, timeout=5)
    run_tick(keyed, params={"code": KEY})
    run_tick(keyed, params={"code": "wrong-guess"})
    wait_until(lambda: tick_runs(keyed) > before, message="the keyed tick run")  # (not left to land in another test)
    assert KEY not in keyed.log() and "wrong-guess" not in keyed.log()


@pytest.mark.parametrize("how", [{}, {"headers": {"x-functions-key": "wrong"}}, {"params": {"code": "wrong"}},
                                 {"params": {"code": KEY}, "headers": {"x-functions-key": ""}}])
def test_the_admin_endpoint_without_the_key_is_401_with_no_body_and_runs_nothing(keyed, how):
    before = tick_runs(keyed)
    refused = run_tick(keyed, **how)
    assert refused.status_code == 401 and refused.content == b""
    assert KEY not in str(refused.headers)
    # A keyed run is the barrier: a run the refused request had started would have
    # begun first, and runs of one timer take turns, so it would be recorded by now too.
    assert run_tick(keyed, headers={"x-functions-key": KEY}).status_code == 202
    wait_until(lambda: tick_runs(keyed) > before, message="the keyed tick run")
    assert tick_runs(keyed) == before + 1


@pytest.mark.parametrize("how", [{"headers": {"x-functions-key": KEY}}, {"params": {"code": KEY}}])
def test_the_key_opens_the_admin_endpoint_from_the_header_or_the_code_parameter_as_in_the_host(keyed, how):
    before = tick_runs(keyed)
    assert run_tick(keyed, **how).status_code == 202
    wait_until(lambda: tick_runs(keyed) == before + 1, message="the admin tick run")


def test_the_admin_endpoint_checks_the_key_before_it_looks_up_the_function(keyed):
    unknown = f"{keyed.base}/admin/functions/nope"
    assert requests.post(unknown, json={"input": ""}, timeout=5).status_code == 401
    assert requests.post(unknown, json={"input": ""}, headers={"x-functions-key": KEY},
                         timeout=5).status_code == 404


def test_without_a_key_set_nothing_is_checked_as_with_core_tools(host):
    assert requests.get(f"{host.base}/api/things(k6)", timeout=5).status_code == 200
    before = tick_runs(host)
    assert run_tick(host).status_code == 202
    wait_until(lambda: tick_runs(host) == before + 1, message="the admin tick run")
