"""What the app costs while nothing happens: storage transactions per idle hour.

**Computed** from the app's bindings and host.json, with the Functions host's own rules
(sources in the README, "What it costs"):

* each queue trigger polls its queue with one Get Messages; an idle listener backs off to
  ``maxPollingInterval`` (P) and stays there: Q × 3600 / P;
* each timer function holds a singleton blob lease (60 s, renewed every 30 s): 120 per timer,
  plus 2 requests (the schedule status blob) each time it fires;
* the host holds the primary-host blob lease (15 s, renewed every 12 s): 300.

**Measured**: the app under devhost, idle, against an Azurite that logs every request;
the requests in ``WINDOW_SECONDS``, after the listeners have backed off, scaled to an hour.
devhost polls queues as the host does and runs timers, but takes no blob leases, so the
measured figure is the queue polling only; the two must agree on that part.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

from helpers import Azurite  # tests/, on sys.path (bench/__init__)

from devhost.app_loader import QUEUE, TIMER, load
from devhost.config import QueuesOptions, load_host_config
from devhost.timers import checked_schedule, next_after

from . import REPO
from .processes import AppHost

WINDOW_SECONDS = 60
SETTLE_SECONDS = 15  # the listeners' backoff reaches maxPollingInterval well within this
TIMER_LEASE_RENEWALS_PER_HOUR = 120  # SingletonOptions.ListenerLockPeriod 60 s, renewed at half
TIMER_STATUS_REQUESTS_PER_FIRE = 2  # StorageScheduleMonitor: create container if missing + upload
PRIMARY_HOST_RENEWALS_PER_HOUR = 300  # PrimaryHostCoordinatorOptions 15 s lease, renewed every 12 s
REQUEST = re.compile(r"(Blob|Queue|Table)StorageContextMiddleware: RequestMethod=")


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


def measured_per_hour(window: float = WINDOW_SECONDS) -> dict:
    """Requests an idle devhost makes, counted in Azurite's own request log, scaled to an hour."""
    logs = REPO / "bench" / "results" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as data:
        debug_log = Path(data) / "requests.log"
        with Azurite(Path(data), logs / "azurite-idle.log", debug_log=debug_log) as azurite, \
                AppHost(azurite.connection_string, logs / "devhost-idle.log", polling=None):
            time.sleep(SETTLE_SECONDS)
            before = _requests(debug_log)
            time.sleep(window)
            counted = _requests(debug_log) - before
    return {"window_seconds": window, "requests": counted, "per_hour": round(counted * 3600 / window)}


def _requests(debug_log: Path) -> int:
    with open(debug_log, errors="replace") as f:
        return sum(1 for line in f if REQUEST.search(line))


def measure_idle() -> dict:
    """Both figures; the measured one covers the queue polling part of the computed one."""
    computed, measured = computed_per_hour(), measured_per_hour()
    return {"computed": computed, "measured": measured}
