"""ExecuteMultiple: the time to accept 1,000 requests in one call, over HTTP through devhost.

Each run has an app of its own (its own table and queue), so that no run waits for the worker still
running the operations a previous run queued: what is timed is the call alone."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from .processes import AppHost

REQUESTS = 1000
RUNS = 3


def _entries(kind: str) -> list[dict]:
    if kind == "ExecuteAsync":
        return [{"RequestName": "ExecuteAsync", "Parameters": {"Request": {
            "RequestName": "sample_Echo", "Parameters": {"I": i}}}} for i in range(REQUESTS)]
    return [{"RequestName": "sample_Echo", "Parameters": {"I": i}} for i in range(REQUESTS)]


def measure_execute_multiple(connection_string: str, logs: Path) -> dict:
    """Seconds per 1,000-request ExecuteMultiple (each run checked: 200, no fault, 1,000 responses)."""
    http, results = requests.Session(), {}
    for kind in ("sample_Echo", "ExecuteAsync"):
        body = {"Requests": _entries(kind), "Settings": {"ContinueOnError": False, "ReturnResponses": True}}
        seconds = []
        for run in range(RUNS):
            with AppHost(connection_string, logs / f"devhost-multiple-{kind}-{run}.log") as host:
                started = time.monotonic()
                response = http.post(host.url("ExecuteMultiple"), json=body, timeout=300)
                seconds.append(time.monotonic() - started)
            answer = response.json()
            if response.status_code != 200 or answer["IsFaulted"] or len(answer["Responses"]) != REQUESTS:
                raise RuntimeError(f"ExecuteMultiple answered {response.status_code}: {response.text[:300]}")
        results[kind] = {"runs_seconds": [round(s, 2) for s in seconds], "best_seconds": round(min(seconds), 2)}
    return {"requests": REQUESTS, **results}
