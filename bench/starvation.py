"""The API while long handlers run: 20 sample_Sleep operations hold the worker's threads,
and a client reads statuses, lists and submits meanwhile. Prints the API's p50/p99."""

from __future__ import annotations

import itertools
import time

import requests

from .stats import summarize_ms

LONG_OPERATIONS = 20
SLEEP_SECONDS = 60
MEASURE_SECONDS = 20


def measure_api_under_long_handlers(host) -> dict:
    """Start 20 long operations, wait until they run, then time API calls in turns for 20 s."""
    http = requests.Session()
    ids = [http.post(host.url("data/v9.2/sample_Sleep"), json={"Seconds": SLEEP_SECONDS},
                     headers={"Prefer": "respond-async"}, timeout=30).json()["backgroundOperationId"]
           for _ in range(LONG_OPERATIONS)]
    running = _wait_until_running(http, host, ids)
    calls = itertools.cycle([
        lambda: http.get(host.url(f"backgroundoperation/{ids[0]}"), timeout=60),
        lambda: http.get(host.url("data/v9.2/backgroundoperations"), params={"$top": "20"}, timeout=60),
        lambda: http.post(host.url("data/v9.2/sample_Echo"), json={"A": 1}, headers={"Prefer": "respond-async"},
                          timeout=60),
        lambda: http.get(host.url("health"), timeout=60),
    ])
    durations, statuses, until = [], set(), time.monotonic() + MEASURE_SECONDS
    while time.monotonic() < until:
        started = time.monotonic()
        statuses.add(next(calls)().status_code)
        durations.append(time.monotonic() - started)
    for op_id in ids:  # leave nothing running for what comes next
        http.delete(host.url(f"backgroundoperation/{op_id}"), timeout=60)
    return {"long_operations": LONG_OPERATIONS, "running_when_measured": running,
            "statuses": sorted(statuses), **summarize_ms(durations)}


def _wait_until_running(http: requests.Session, host, ids: list[str], timeout: float = 60) -> int:
    """How many of ``ids`` run (In Progress) once all do, or once ``timeout`` passes."""
    deadline, running = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        rows = http.get(host.url("data/v9.2/backgroundoperations"),
                        params={"$filter": "backgroundoperationstatuscode eq 20", "$top": "100"}, timeout=60)
        running = len({row["backgroundoperationid"] for row in rows.json()["value"]} & set(ids))
        if running == len(ids):
            break
        time.sleep(0.5)
    return running
