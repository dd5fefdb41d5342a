"""The app beside its peers, in one run on one Azurite: the raw-SDK floor and Celery doing the same 1,000 no-op
operations, taken in turns, each figure counted the same way for all three.

* **The app**: ``sample_Echo`` submitted over HTTP to the app under devhost, run by its queue trigger, with
  host.json as it ships (an idle queue polled at most every 2 s).
* **The raw-SDK floor** (``bench.floor_app``): one process that answers a POST by inserting a row and putting its
  id on a queue, straight through the SDKs, and whose worker thread receives the messages in batches of 16, merges
  each row as finished and deletes the message. The same roles as the app's process (it takes the submits over
  HTTP and runs the work), with nothing a queue-driven web service can do without.
* **Celery** (``bench.celery_peer``): the same no-op as a task, kombu's Azure Storage Queues transport as the
  broker and Celery's Azure Block Blob result backend, a threads-pool worker of 8; remote control, gossip, mingle
  and heartbeats off, as a deployment on a queue transport would run it.

Each contestant reaches storage through a proxy of its own (``faults.proxy.StorageProxy``) that counts the
requests passing it (``bench.http_count``): storage transactions per operation are everything it sent from its
first submit until its last operation had finished, idle polling included. The bench watches for the end
without the proxy, so watching costs nothing that is counted. Operations per second run from the first submit
to the last finish (the row's ``endtime``; Celery's ``date_done``). CPU per operation is the worker process's
(/proc) over the same span, and the submitting client's apart (its 8 threads' own CPU clocks): Celery's client
publishes to storage itself, where the app's and the floor's send one HTTP request.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import ContainerClient
from azure.storage.queue import QueueClient
from helpers import ACCOUNT_KEY, free_port, stop_process, wait_until  # tests/, on sys.path (bench/__init__)

from faults.proxy import StorageProxy, ports_of

from . import REPO
from .http_count import RequestCounter
from .latency import submit_once
from .processes import AppHost, cpu_seconds
from .retries import again
from .throughput import succeeded_rows

OPERATIONS = 1000
WARMUP = 10
ROUNDS = 2
THREADS = 8
POLL_SECONDS = 0.5
TIMEOUT_SECONDS = 180
ACCOUNT = "devstoreaccount1"


class _Counted:
    """A proxy of one contestant's own in front of storage, and its count of requests."""

    def __init__(self, connection_string: str) -> None:
        self.direct = connection_string  # for watching, never counted
        self.requests = RequestCounter()
        self.proxy = StorageProxy(ports_of(connection_string), seen=self.requests.reader)
        self.connection_string = self.proxy.connection_string(ACCOUNT, ACCOUNT_KEY)
        self._local = threading.local()

    def session(self) -> requests.Session:
        """This submitting thread's own kept-alive session."""
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def stop(self) -> None:
        self.proxy.stop()


def _rows_finished(table: TableClient, ids: set[str], since: datetime) -> list[float] | None:
    """Every id's finish time (its row's ``endtime``), once all of them have Succeeded; None until then."""
    rows = [r for r in succeeded_rows(table, since) if r["RowKey"] in ids]
    return [r["endtime"].timestamp() for r in rows] if len(rows) >= len(ids) else None


class _App(_Counted):
    name = "app"

    def __init__(self, connection_string: str, logs: Path) -> None:
        super().__init__(connection_string)
        self.host = AppHost(self.connection_string, logs / "devhost-peers.log", polling=None)  # host.json's
        self.pid = self.host.process.pid
        self._table = TableClient.from_connection_string(self.direct, self.host.table_name)

    def submit(self, index: int) -> str:
        return submit_once(self.session(), self.host, index)

    def finished(self, ids: set[str], since: datetime) -> list[float] | None:
        return _rows_finished(self._table, ids, since)

    def stop(self) -> None:
        self.host.stop()
        super().stop()


class _Floor(_Counted):
    name = "floor"

    def __init__(self, connection_string: str, logs: Path) -> None:
        super().__init__(connection_string)
        name, port = f"floor{uuid.uuid4().hex[:8]}", free_port()
        TableServiceClient.from_connection_string(self.direct).create_table(name)
        QueueClient.from_connection_string(self.direct, name).create_queue()
        self._url = f"http://127.0.0.1:{port}/"
        self._watch = TableClient.from_connection_string(self.direct, name)
        self.process = _start([sys.executable, "-m", "bench.floor_app", self.connection_string, name, str(port)],
                              logs / "floor-app.log")
        self.pid = self.process.pid

    def submit(self, index: int) -> str:
        response = _post_when_listening(self.session(), self._url, {"Index": index, "Text": "bench"})
        if response.status_code != 202:
            raise RuntimeError(f"the floor answered {response.status_code}: {response.text[:300]}")
        return response.text

    def finished(self, ids: set[str], since: datetime) -> list[float] | None:
        return _rows_finished(self._watch, ids, since)

    def stop(self) -> None:
        stop_process(self.process)
        super().stop()


def _post_when_listening(session: requests.Session, url: str, body: dict) -> requests.Response:
    """POST ``body``; a refused connection while the process starts is tried again for up to 30 s."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return session.post(url, json=body, timeout=30)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class _Celery(_Counted):
    name = "celery"

    def __init__(self, connection_string: str, logs: Path) -> None:
        super().__init__(connection_string)
        from celery import Celery  # a development dependency, imported only by this section

        parts = dict(p.split("=", 1) for p in self.connection_string.split(";") if "=" in p)
        name = f"celery{uuid.uuid4().hex[:8]}"
        settings = {"BENCH_CELERY_BROKER": f"azurestoragequeues://{ACCOUNT_KEY}@{parts['QueueEndpoint']}",
                    "BENCH_CELERY_BACKEND": f"azureblockblob://{self.connection_string}",
                    "BENCH_CELERY_CONTAINER": name, "BENCH_CELERY_QUEUE": name}
        self._queue = name
        self._client = Celery("bench-client", broker=settings["BENCH_CELERY_BROKER"],
                              backend=settings["BENCH_CELERY_BACKEND"])
        self._client.conf.update(task_default_queue=name, broker_connection_retry_on_startup=True,
                                 azureblockblob_container_name=name)
        self._container = ContainerClient.from_connection_string(self.direct, name)
        self._container.create_container()  # as the backend would on its first result, but before the count
        self.process = _start([sys.executable, "-m", "celery", "-A", "bench.celery_peer", "worker", "-P", "threads",
                               "-c", str(THREADS), "-Q", name, "--without-heartbeat", "--without-mingle",
                               "--without-gossip", "-l", "warning"],
                              logs / "celery-worker.log", {**os.environ, **settings})
        self.pid = self.process.pid

    def submit(self, index: int) -> str:
        return str(self._client.send_task("bench.noop", args=[index, "bench"], queue=self._queue).id)

    def finished(self, ids: set[str], since: datetime) -> list[float] | None:
        stored = {b.name.removeprefix("celery-task-meta-") for b in again(
            "list of Celery's results", lambda: list(self._container.list_blobs(name_starts_with="celery-task-meta-")))}
        if not ids <= stored:
            return None
        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(self._done_at, ids))

    def _done_at(self, task_id: str) -> float:
        meta = json.loads(again("read of a Celery result", lambda: self._container.download_blob(
            f"celery-task-meta-{task_id}").readall()))
        if meta["status"] != "SUCCESS":
            raise RuntimeError(f"Celery task {task_id} ended {meta['status']}")
        return datetime.fromisoformat(meta["date_done"]).replace(tzinfo=UTC).timestamp()

    def stop(self) -> None:
        stop_process(self.process)
        super().stop()


def _start(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log, "w") as out:  # the child keeps its own copy of the file
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


Contestant = _App | _Floor | _Celery


def _round(who: Contestant, n: int) -> dict:
    """``n`` operations submitted from THREADS threads; what they cost and how fast they went."""
    since, client_cpu = datetime.now(UTC), {}

    def submit(index: int) -> str:
        operation_id = who.submit(index)
        client_cpu[threading.get_ident()] = time.thread_time()  # this thread's CPU so far (a new pool's thread)
        return operation_id

    who.requests.taken()
    cpu_before, started = cpu_seconds(who.pid), time.time()
    with ThreadPoolExecutor(THREADS, thread_name_prefix=f"bench-{who.name}") as pool:
        ids = set(pool.map(submit, range(n)))
    ends = wait_until(lambda: who.finished(ids, since), timeout=TIMEOUT_SECONDS, interval=POLL_SECONDS,
                      message=f"{n} operations of the {who.name} to finish")
    cpu_after, counts = cpu_seconds(who.pid), who.requests.taken()
    if cpu_before is None or cpu_after is None:
        raise RuntimeError(f"the {who.name}'s process (pid {who.pid}) has no CPU time to read")
    return {"operations_per_second": round(n / (max(ends) - started), 1),
            "cpu_ms_per_op": round((cpu_after - cpu_before) / n * 1000, 2),
            "client_cpu_ms_per_op": round(sum(client_cpu.values()) / n * 1000, 2),
            "transactions_per_op": round(sum(counts.values()) / n, 3),
            "requests_per_op": {key: round(value / n, 3) for key, value in sorted(counts.items())}}


def measure_peers(connection_string: str, logs: Path, *, n: int = OPERATIONS, rounds: int = ROUNDS,
                  progress: Callable[[str], None] = lambda text: None) -> dict:
    """Each contestant does a warm-up, then ``rounds`` rounds of ``n`` operations, the three taking turns."""
    contestants: list[Contestant] = []
    try:
        for kind in (_App, _Floor, _Celery):
            contestants.append(kind(connection_string, logs))
        for who in contestants:
            _round(who, WARMUP)
        runs: dict[str, list[dict]] = {who.name: [] for who in contestants}
        for number in range(1, rounds + 1):
            for who in contestants:
                runs[who.name].append(_round(who, n))
                progress(f"  round {number}, {who.name}: {runs[who.name][-1]}")
    finally:
        for who in contestants:
            who.stop()
    return {"operations": n, "rounds": rounds, "threads": THREADS,
            "by_contestant": {name: _summary(each) for name, each in runs.items()}}


def _summary(rounds: list[dict]) -> dict:
    """The median of each figure over the rounds, and the rounds themselves."""
    figures = ("operations_per_second", "cpu_ms_per_op", "client_cpu_ms_per_op", "transactions_per_op")
    return {**{key: round(statistics.median(r[key] for r in rounds), 2) for key in figures}, "rounds": rounds}
