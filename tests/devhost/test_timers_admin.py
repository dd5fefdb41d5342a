"""Timers and the admin endpoint through devhost."""


import requests
from helpers import wait_until


def test_timer_fires_on_schedule_and_never_overlaps_itself(host):
    runs = wait_until(lambda: host.records("slow_tick")[:3] if len(host.records("slow_tick")) >= 3
                      else None, timeout=20, message="three slow_tick runs")
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert earlier["ended"] <= later["started"]


def test_admin_endpoint_runs_a_timer_function_case_insensitively(host):
    before = len(host.records("tick"))  # other tests share this host and run tick too
    r = requests.post(f"{host.base}/admin/functions/TICK", json={"input": ""}, timeout=5)
    assert r.status_code == 202
    assert wait_until(lambda: host.records("tick")[before:], message="tick run") == [{"past_due": False}]


def test_admin_endpoint_runs_only_timers_the_way_the_app_uses_it(host):
    r = requests.post(f"{host.base}/admin/functions/work", json={"input": "{}"}, timeout=5)
    assert r.status_code == 400


def test_admin_endpoint_unknown_function_and_bad_body(host):
    assert requests.post(f"{host.base}/admin/functions/nope", json={"input": ""},
                         timeout=5).status_code == 404
    assert requests.post(f"{host.base}/admin/functions/tick", data="not json",
                         timeout=5).status_code == 400
