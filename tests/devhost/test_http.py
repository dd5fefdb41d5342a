"""HTTP triggers over real HTTP through devhost."""

import time
from concurrent.futures import ThreadPoolExecutor

import requests


def test_mixed_literal_route_passes_route_params_url_and_first_query_value(host):
    r = requests.get(f"{host.base}/api/things(abc-123)?x=1&x=2&empty=", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert body["id"] == "abc-123"
    assert body["params"] == {"x": "1", "empty": ""}
    assert body["url"] == f"{host.base}/api/things(abc-123)?x=1&x=2&empty="


def test_routes_match_case_insensitively(host):
    assert requests.get(f"{host.base}/API/Things(A)", timeout=5).json()["id"] == "A"


def test_wrong_method_and_unknown_path_are_404(host):
    assert requests.delete(f"{host.base}/api/things(abc)", timeout=5).status_code == 404
    assert requests.get(f"{host.base}/api/nothing-here", timeout=5).status_code == 404
    assert requests.get(f"{host.base}/things(abc)", timeout=5).status_code == 404  # no prefix


def test_function_without_route_is_served_at_its_name_and_str_result_is_text(host):
    r = requests.get(f"{host.base}/api/plain", timeout=5)
    assert (r.status_code, r.text) == (200, "plain")
    assert r.headers["Content-Type"].startswith("text/plain")


def test_body_headers_status_and_a_decoded_route_value_round_trip(host):
    r = requests.put(f"{host.base}/api/echo/b%20c", data=b"\x00payload",
                     headers={"X-Custom": "seen"}, timeout=5)
    assert r.status_code == 201
    assert r.content == b"\x00payload"
    assert r.headers["X-Rest"] == "b c"
    assert r.headers["X-Seen-Header"] == "seen"


def test_exception_in_function_is_500_and_host_keeps_serving(host):
    assert requests.get(f"{host.base}/api/boom", timeout=5).status_code == 500
    assert requests.get(f"{host.base}/api/plain", timeout=5).status_code == 200


def test_a_path_with_more_segments_than_any_route_is_404(host):
    assert requests.put(f"{host.base}/api/echo/a/b", timeout=5).status_code == 404


def test_requests_run_concurrently(host):
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(
            lambda _: requests.get(f"{host.base}/api/sleep/1", timeout=10).status_code, range(4)))
    assert statuses == [200] * 4
    assert time.monotonic() - started < 3.5  # 4 x 1 s sequentially would be >= 4 s


def test_request_log_has_no_query_string(host):
    requests.get(f"{host.base}/api/things(logcheck)?sig=SECRET123", timeout=5)
    from helpers import wait_until
    wait_until(lambda: "/api/things(logcheck)" in host.log(), message="request log line")
    assert "SECRET123" not in host.log()


def test_a_host_header_that_is_not_a_host_is_400_as_kestrel_answers(host):
    for bad in ("[", "a:port", "a/b", "a b"):
        response = requests.get(f"{host.base}/api/things(x)", headers={"Host": bad}, timeout=5)
        assert response.status_code == 400, bad


def test_a_method_no_function_allows_is_404_as_in_the_host_not_501(host):
    for method in ("TRACE", "PROPFIND", "PURGE"):
        assert requests.request(method, f"{host.base}/api/things(x)", timeout=5).status_code == 404, method
