"""``make bench``'s peers section (bench/peers.py, bench/own_cpu.py) on a few operations, so that it keeps working
between bench runs: the app, the raw-SDK floor and Celery each finish their operations, and the proxy counts what
each one sends."""

from __future__ import annotations

from bench.own_cpu import BATCH, measure_own_cpu
from bench.peers import measure_peers


def test_the_app_the_floor_and_celery_each_finish_and_are_counted_by_the_proxy(azurite, tmp_path):
    peers = measure_peers(azurite, tmp_path, n=20, rounds=1)

    by = peers["by_contestant"]
    assert set(by) == {"app", "floor", "celery"}
    for figures in by.values():
        assert figures["operations_per_second"] > 0 and figures["cpu_ms_per_op"] > 0
    app, floor, celery = (by[name]["rounds"][0]["requests_per_op"] for name in ("app", "floor", "celery"))
    # the app: an insert and the one write that ends the attempt; a put; the host's delete
    assert (app["table POST"], app["queue POST"], app["queue DELETE"]) == (2.0, 1.0, 1.0)
    assert (floor["table POST"], floor["table PATCH"], floor["queue POST"], floor["queue DELETE"]) == (1, 1, 1, 1)
    # a message and a result each (and, once per worker thread, its backend's create-container call)
    assert celery["queue POST"] == 1.0 and celery["blob PUT"] >= 1.0


def test_the_apps_own_cpu_is_measured_beside_the_floors_in_one_process(azurite):
    own = measure_own_cpu(azurite, n=BATCH, rounds=1)
    assert own["app_cpu_ms_per_op"] > 0 and own["floor_cpu_ms_per_op"] > 0
    assert own["ratio"] == round(own["rounds"][0]["app_ms"] / own["rounds"][0]["floor_ms"], 2)
