"""End-to-end throughput: many submissions over HTTP, then wait until every one has Succeeded.

Progress is counted in the table itself with a server-side filter
(``backgroundoperationstatuscode eq 30``), selecting only the columns the
numbers need, so polling adds little load to the run it measures.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests
from azure.data.tables import TableClient
from helpers import wait_until  # tests/, on sys.path (bench/__init__)

from .latency import submit_once
from .processes import AppHost, cpu_seconds
from .retries import again
from .stats import percentile

OPERATIONS = 1000
THREADS = 8
POLL_SECONDS = 0.5
TIMEOUT_SECONDS = 120
SUCCEEDED = 30


def succeeded_rows(table: TableClient, since: datetime) -> list[dict]:
    """Rows created at or after ``since`` that have Succeeded: id, createdon and endtime only."""
    return again("query of the finished rows", lambda: list(table.query_entities(
        "backgroundoperationstatuscode eq @done and createdon ge @since",
        parameters={"done": SUCCEEDED, "since": since}, select=["RowKey", "createdon", "endtime"])))


def wait_until_succeeded(table: TableClient, since: datetime, ids: set[str], timeout: float) -> list[dict]:
    """Poll until every id in ``ids`` has Succeeded; returns their rows (TimeoutError after ``timeout``)."""
    def done() -> list[dict] | None:
        rows = [r for r in succeeded_rows(table, since) if r["RowKey"] in ids]
        return rows if len(rows) >= len(ids) else None

    return wait_until(done, timeout=timeout, interval=POLL_SECONDS, message=f"{len(ids)} operations to succeed")


def _submit_all(host: AppHost, n: int, threads: int) -> list[str]:
    local = threading.local()

    def one(index: int) -> str:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return submit_once(local.session, host, index)

    with ThreadPoolExecutor(threads, thread_name_prefix="bench-submit") as pool:
        return list(pool.map(one, range(n)))


def _cpu(pids: dict[str, int | None]) -> dict[str, float | None]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def measure_throughput(host: AppHost, pids: dict[str, int | None], n: int = OPERATIONS,
                       threads: int = THREADS) -> dict:
    """Submit ``n`` operations from ``threads`` threads; operations/second from first submit to last success.

    ``pids`` names the processes whose CPU time per operation to report (None: this one).
    """
    table = TableClient.from_connection_string(host.connection_string, host.table_name)
    since = datetime.now(UTC)
    cpu_before = _cpu(pids)
    started = time.time()
    ids = _submit_all(host, n, threads)
    submitted = time.time()
    rows = wait_until_succeeded(table, since, set(ids), TIMEOUT_SECONDS)
    cpu_after = _cpu(pids)
    last_success = max(r["endtime"].timestamp() for r in rows)
    cpu_ms_per_op = {name: None if cpu_before[name] is None or cpu_after[name] is None
                     else round((cpu_after[name] - cpu_before[name]) / n * 1000, 2) for name in pids}
    turnaround = [(r["endtime"] - r["createdon"]).total_seconds() for r in rows]
    return {
        "operations": n,
        "threads": threads,
        "submit_seconds": round(submitted - started, 2),
        "submits_per_second": round(n / (submitted - started), 1),
        "seconds_to_last_success": round(last_success - started, 2),
        "operations_per_second": round(n / (last_success - started), 1),
        "turnaround_p50_ms": round(statistics.median(turnaround) * 1000, 1),
        "turnaround_p99_ms": round(percentile(turnaround, 99) * 1000, 1),
        "cpu_ms_per_op": cpu_ms_per_op,  # polling included; the client's share includes its submit threads
    }
