"""Submit latency over real HTTP, taken in turns with the raw floor so both see the same conditions.

Each round is one ``Prefer: respond-async`` POST from one kept-alive session, then one raw
table insert plus queue put straight through the SDK (``baseline.RawWrites``). Measured in
turns, the two share whatever else is happening (the app's worker running the submitted
operations, Azurite's garbage collection, a busy neighbour), so their ratio is stable where
two separate runs were not (the ratio moved between 1.5× and 2.3× from run to run).
"""

from __future__ import annotations

import time
from functools import partial

import requests

from shared.services.submission import submit

from .baseline import RawWrites
from .in_process import echo, services
from .processes import AppHost
from .retries import again
from .stats import summarize_ms

SUBMISSIONS = 500
WARMUP = 10
PATH = "data/v9.2/sample_Echo"
HEADERS = {"Prefer": "respond-async"}


def submit_once(session: requests.Session, host: AppHost, index: int) -> str:
    """POST one sample_Echo submission; returns its operation id (raises unless 202)."""
    response = session.post(host.url(PATH), json={"Index": index, "Text": "bench"}, headers=HEADERS, timeout=30)
    if response.status_code != 202:
        raise RuntimeError(f"submit answered {response.status_code}: {response.text[:300]}")
    return response.headers["x-ms-dyn-backgroundoperationid"]


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure_submit_latency(host: AppHost, raw: RawWrites, n: int = SUBMISSIONS) -> tuple[dict, dict, list[str]]:
    """``n`` rounds of one submission and one raw insert+put (after a warm-up).

    Returns the submit summary (with ``over_baseline_p50``), the baseline summary, and every id.
    """
    submits, floors, ids = [], [], []
    with requests.Session() as session:
        for i in range(WARMUP + n):
            submit_time = _timed(lambda: ids.append(submit_once(session, host, i)))  # noqa: B023 (called at once)
            floor_time = _timed(lambda: again("raw insert + put", raw.write_once))  # a new row each try
            if i >= WARMUP:
                submits.append(submit_time)
                floors.append(floor_time)
    submit, baseline = summarize_ms(submits), summarize_ms(floors)
    submit["over_baseline_p50"] = round(submit["p50_ms"] / baseline["p50_ms"], 2)
    return submit, baseline, ids


IN_PROCESS_SUBMISSIONS = 300


def measure_in_process(connection_string: str, raw: RawWrites, n: int = IN_PROCESS_SUBMISSIONS) -> dict:
    """The app's own part of a submit: ``n`` rounds of the submit service called in this process (no HTTP, no
    host, no worker running), each followed by one raw insert + put, after a warm-up; p50 and p99 of each, and
    the ratio of the p50s."""
    svc = services(connection_string, "lat")
    submits, floors = [], []
    for i in range(WARMUP + n):
        submit_time = _timed(partial(submit, svc, echo(i)))
        floor_time = _timed(lambda: again("raw insert + put", raw.write_once))
        if i >= WARMUP:
            submits.append(submit_time)
            floors.append(floor_time)
    app, baseline = summarize_ms(submits), summarize_ms(floors)
    return {"submit": app, "baseline": baseline, "over_baseline_p50": round(app["p50_ms"] / baseline["p50_ms"], 2),
            "over_baseline_p99": round(app["p99_ms"] / baseline["p99_ms"], 2)}
