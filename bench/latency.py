"""Submit latency over real HTTP: sequential ``Prefer: respond-async`` POSTs from one session."""

from __future__ import annotations

import time

import requests

from .processes import AppHost
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


def measure_submit_latency(host: AppHost, n: int = SUBMISSIONS) -> tuple[dict, list[str]]:
    """Time ``n`` sequential submissions (after a short warm-up); returns the summary and every id."""
    timings, ids = [], []
    with requests.Session() as session:
        for i in range(WARMUP + n):
            started = time.perf_counter()
            ids.append(submit_once(session, host, i))
            if i >= WARMUP:
                timings.append(time.perf_counter() - started)
    return summarize_ms(timings), ids
