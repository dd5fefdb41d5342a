"""Section 11, for callers: what an Idempotency-Key costs a submit, and what Prefer: wait saves a quick operation.

* **Keys.** ``KEYED_SUBMITS`` submits of the bench's no-op, in the bench's process, each counted at a proxy in front
  of storage: without a key, with one (the key's row goes in the row's entity group transaction; the mark after
  the put is one more), and each keyed one sent again (the clash, the key's row, the operation's row).
* **Waiting.** ``QUICK_OPERATIONS`` operations of 300 ms through devhost, at once, as two kinds of caller: one
  that polls the status monitor at Retry-After (the app's default, 10 s) until it answers 200, and one that
  submits with ``Prefer: respond-async, wait=30`` (then, should it still be running, reads the status monitor
  with ``Prefer: wait``). For each: HTTP requests per operation, the time from submit to the outcome in hand,
  and the storage requests devhost made for it (counted at a proxy), the worker's own included.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import requests
from helpers import ACCOUNT_KEY  # tests/, on sys.path (bench/__init__)

from faults.proxy import StorageProxy, ports_of
from shared.services.submission import submit

from .http_count import RequestCounter
from .in_process import echo, services
from .processes import AppHost
from .stats import percentile

KEYED_SUBMITS = 100
QUICK_OPERATIONS = 20
QUICK_SECONDS = 0.3
WAIT_SECONDS = 30
PATH = "data/v9.2/sample_Sleep"


def _per_submit(counts: dict[str, int], n: int) -> float:
    return round(sum(counts.values()) / n, 3)


def measure_keyed_submits(connection_string: str, n: int = KEYED_SUBMITS) -> dict:
    """Storage requests per submit: without a key, with one, and a keyed submit sent again."""
    counter = RequestCounter()
    proxy = StorageProxy(ports_of(connection_string), seen=counter.reader)
    try:
        svc = services(proxy.connection_string("devstoreaccount1", ACCOUNT_KEY), "keys")
        submit(svc, echo(-1))  # the table and the queue made, once per process
        counter.taken()
        for i in range(n):
            submit(svc, echo(i))
        plain = counter.taken()
        keyed = [replace(echo(i), idempotency_key=f"bench-{uuid.uuid4()}") for i in range(n)]
        first = [submit(svc, sub).id for sub in keyed]
        with_key = counter.taken()
        again = [submit(svc, sub).id for sub in keyed]
        sent_again = counter.taken()
    finally:
        proxy.stop()
    if again != first:
        raise RuntimeError("a keyed submit sent again answered another operation")
    return {"submits": n, "without_key": _per_submit(plain, n), "with_key": _per_submit(with_key, n),
            "sent_again": _per_submit(sent_again, n), "without_key_by_kind": dict(plain),
            "with_key_by_kind": dict(with_key), "sent_again_by_kind": dict(sent_again)}


def _polling(session: requests.Session, host: AppHost) -> tuple[int, float]:
    """Submit, then poll Location at Retry-After until 200: (HTTP requests, seconds to the outcome)."""
    started = time.monotonic()
    response = session.post(host.url(PATH), json={"Seconds": QUICK_SECONDS}, headers={"Prefer": "respond-async"},
                            timeout=30)
    calls, location = 1, response.headers["Location"]
    while response.status_code == 202:
        time.sleep(float(response.headers.get("Retry-After", 10)))
        response, calls = session.get(location, timeout=30), calls + 1
    _check(response)
    return calls, time.monotonic() - started


def _waiting(session: requests.Session, host: AppHost) -> tuple[int, float]:
    """Submit with Prefer: wait, then (if still running) read Location with it: (HTTP requests, seconds)."""
    started = time.monotonic()
    response = session.post(host.url(PATH), json={"Seconds": QUICK_SECONDS}, timeout=WAIT_SECONDS + 30,
                            headers={"Prefer": f"respond-async, wait={WAIT_SECONDS}"})
    calls = 1
    while response.status_code == 202:
        response = session.get(response.headers["Location"], headers={"Prefer": f"wait={WAIT_SECONDS}"},
                               timeout=WAIT_SECONDS + 30)
        calls += 1
    _check(response)
    return calls, time.monotonic() - started


def _check(response: requests.Response) -> None:
    if response.status_code != 200 or response.json().get("backgroundOperationStatusCode") != 30:
        raise RuntimeError(f"an operation ended {response.status_code}: {response.text[:300]}")


def _round(host: AppHost, counter: RequestCounter, caller: Callable[[requests.Session, AppHost], tuple[int, float]],
           n: int) -> dict:
    counter.taken()
    with ThreadPoolExecutor(max_workers=n) as pool, requests.Session() as session:
        results = list(pool.map(lambda _: caller(session, host), range(n)))
    storage = counter.taken()
    seconds = [s for _, s in results]
    return {"http_requests_per_op": round(sum(c for c, _ in results) / n, 2),
            "seconds_to_outcome_p50": round(percentile(seconds, 50), 2),
            "seconds_to_outcome_max": round(max(seconds), 2),
            "storage_requests_per_op": round(sum(storage.values()) / n, 2),
            "table_reads_per_op": round(storage["table GET"] / n, 2)}


def measure_waiting(connection_string: str, logs: Path, n: int = QUICK_OPERATIONS) -> dict:
    """``n`` 300 ms operations at once as a polling caller, then as a waiting one, through one devhost."""
    counter = RequestCounter()
    proxy = StorageProxy(ports_of(connection_string), seen=counter.reader)
    try:
        with AppHost(proxy.connection_string("devstoreaccount1", ACCOUNT_KEY), logs / "devhost-callers.log",
                     polling=None) as host:
            _round(host, counter, _waiting, 2)  # warm: the table, the queues, the first imports
            polling = _round(host, counter, _polling, n)
            waiting = _round(host, counter, _waiting, n)
    finally:
        proxy.stop()
    return {"operations": n, "operation_seconds": QUICK_SECONDS, "retry_after_seconds": 10, "polling": polling,
            "waiting": waiting,
            "round_trips_saved_per_op": round(polling["http_requests_per_op"] - waiting["http_requests_per_op"], 2)}
