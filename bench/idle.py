"""What the app costs while nothing happens: storage transactions per idle hour.

**Computed** from the app's bindings and host.json, with the Functions host's own rules
(sources in the README, "What it costs"):

* each queue trigger polls its queue with one Get Messages; an idle listener backs off to
  ``maxPollingInterval`` (P) and stays there: Q × 3600 / P;
* each timer function holds a singleton blob lease (60 s, renewed every 30 s): 120 per timer,
  plus 2 requests (the schedule status blob) each time it fires;
* the host holds the primary-host blob lease (15 s, renewed every 12 s): 300.

**Measured** for each ``maxPollingInterval`` choice (``CHOICES``), four hosts of the app side by side under
devhost, idle, against an Azurite that logs every request: each queue trigger's polls in
``CHOICES_WINDOW_SECONDS``, after the listeners have backed off, scaled to an hour, and how long the first
operation after that idle spell waits to start. devhost polls queues as the host does and runs timers, but
takes no blob leases, so the measured figure is the queue polling only; it must agree with 3600 / P per
trigger.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import requests
from azure.data.tables import TableClient
from helpers import Azurite, wait_until  # tests/, on sys.path (bench/__init__)

from devhost.app_loader import QUEUE, TIMER, load
from devhost.config import QueuesOptions, load_host_config
from devhost.timers import checked_schedule, next_after
from shared.storage.keys import shard_of

from . import REPO
from .latency import submit_once
from .processes import AppHost

TIMER_LEASE_RENEWALS_PER_HOUR = 120  # SingletonOptions.ListenerLockPeriod 60 s, renewed at half
TIMER_STATUS_REQUESTS_PER_FIRE = 2  # StorageScheduleMonitor: create container if missing + upload
PRIMARY_HOST_RENEWALS_PER_HOUR = 300  # PrimaryHostCoordinatorOptions 15 s lease, renewed every 12 s
QUEUE_REQUEST = re.compile(
    r"QueueStorageContextMiddleware: RequestMethod=\S+ RequestURL=\S+?/devstoreaccount1/([^/?\s]+)")


def _fires_per_hour(expression: str) -> float:
    start = datetime(2030, 1, 1, tzinfo=UTC)  # the same day every run: the count is the schedule's
    schedule, moment, fires = checked_schedule(expression, "BGOPS_PURGE_SCHEDULE"), start, 0
    while (moment := next_after(schedule, moment)) <= start + timedelta(days=1):
        fires += 1
    return fires / 24


def computed_per_hour() -> dict:
    """The idle cost the host's rules give for this app's bindings and host.json."""
    given = {"AzureWebJobsStorage": os.environ.get("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
             "BGOPS_QUEUE_NAME": "backgroundoperations", "BGOPS_PURGE_SCHEDULE": "0 0 * * * *"}
    environ = {**os.environ, **given}
    with patch.dict(os.environ, given):  # the app reads its settings from the process when it is imported
        specs = load(REPO, environ)
    polling = QueuesOptions.from_host_config(load_host_config(REPO, environ)).max_polling_interval_seconds
    queues = sum(1 for s in specs if s.trigger_type == QUEUE)
    timers = [s.schedule for s in specs if s.trigger_type == TIMER]
    parts = {
        "queue polls": queues * 3600 / polling,
        "timer leases": TIMER_LEASE_RENEWALS_PER_HOUR * len(timers),
        "timer status": sum(TIMER_STATUS_REQUESTS_PER_FIRE * _fires_per_hour(t) for t in timers),
        "primary-host lease": PRIMARY_HOST_RENEWALS_PER_HOUR,
    }
    return {"max_polling_interval_seconds": polling, "queue_triggers": queues, "timers": len(timers),
            "parts": {k: round(v) for k, v in parts.items()}, "per_hour": round(sum(parts.values()))}


# maxPollingInterval choices measured side by side, each host on queues of its own: host.json's, and two longer
# ones (the host's default, a minute, is computed: an idle listener needs minutes to back off to it and then
# polls too seldom to count in a short window). "events off": host.json's, with the notify function disabled.
CHOICES = {"00:00:02": {}, "00:00:10": {}, "00:00:30": {},
           "00:00:02 events off": {"AzureWebJobs.notify.Disabled": "true"}}
CHOICES_SETTLE_SECONDS = 70  # a listener's empty polls double its wait from 100 ms: 30 s is reached within a minute
CHOICES_WINDOW_SECONDS = 120  # four polls of each queue at 30 s


def measured_by_setting(window: float = CHOICES_WINDOW_SECONDS) -> dict:
    """For each maxPollingInterval in CHOICES: the requests each queue trigger's polling makes in an idle hour,
    counted in Azurite's own request log, and how long the first operation after the idle spell then waits to
    start (one each: the listener finds it within its interval, anywhere in it)."""
    logs = REPO / "bench" / "results" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as data, contextlib.ExitStack() as stack:
        debug_log = Path(data) / "requests.log"
        azurite = stack.enter_context(Azurite(Path(data), logs / "azurite-idle.log", debug_log=debug_log))
        hosts = {choice: stack.enter_context(AppHost(azurite.connection_string,
                                                     logs / f"devhost-idle-{n}.log", polling=choice.split()[0],
                                                     **settings))
                 for n, (choice, settings) in enumerate(CHOICES.items())}
        time.sleep(CHOICES_SETTLE_SECONDS)
        before = _requests_by_queue(debug_log)
        time.sleep(window)
        counted = _requests_by_queue(debug_log) - before
        with ThreadPoolExecutor(len(hosts)) as pool:
            waits = dict(zip(hosts, pool.map(_first_start_seconds, hosts.values()), strict=True))
    return {"window_seconds": window, "choices": {
        choice: {"polls_per_hour": {_trigger(queue, host.queue_name): round(counted[queue] * 3600 / window)
                                    for queue in (host.queue_name, f"{host.queue_name}-poison",
                                                  f"{host.queue_name}-events")},
                 "first_start_seconds": waits[choice]}
        for choice, host in hosts.items()}}


def _trigger(queue: str, name: str) -> str:
    return {name: "worker", f"{name}-poison": "poison", f"{name}-events": "notify"}[queue]


def _first_start_seconds(host: AppHost) -> float:
    """Seconds from one sample_Echo's submit to its attempt's start."""
    with requests.Session() as session:
        op_id = submit_once(session, host, 0)
    table = TableClient.from_connection_string(host.connection_string, host.table_name)
    row = wait_until(lambda: (e := table.get_entity(shard_of(op_id), op_id)).get("starttime") and e,
                     timeout=120, interval=0.05, message="the first operation to start")
    return round((row["starttime"] - row["createdon"]).total_seconds(), 2)


def _requests_by_queue(debug_log: Path) -> Counter[str]:
    with open(debug_log, errors="replace") as f:
        return Counter(m[1] for line in f if (m := QUEUE_REQUEST.search(line)))


def measure_idle() -> dict:
    """The computed figure for host.json as it is, and the polling measured for each choice in CHOICES."""
    return {"computed": computed_per_hour(), "by_setting": measured_by_setting()}
