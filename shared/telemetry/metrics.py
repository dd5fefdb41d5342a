"""The metrics an operator asks about, on the OpenTelemetry API (no-op until ``setup`` starts an SDK).

OpenTelemetry's semantic conventions name the two durations they have a name for: each attempt is a message
processed (``messaging.process.duration``), each callback or event POST a client request
(``http.client.request.duration``). The rest are the app's own, under ``bgops.``; every one carries the
operation's registered name (``bgops.operation.name``), never an id (one series per operation would be too
many) or a URL:

* ``bgops.operations.submitted``, ``bgops.attempts.started``, ``bgops.attempts.retried``,
  ``bgops.operations.poisoned``: counters;
* ``bgops.operations.completed``: a counter, ``bgops.outcome`` succeeded, failed or canceled;
* ``bgops.queue.wait``: seconds from submit to the first attempt's start, for an operation that was to run at once;
* ``bgops.queue.oldest_age``: a gauge, how long the first message a worker could take now has waited (one peek at
  the queue each time the metrics are collected: every 60 s by default, only with telemetry on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from ..domain.errors import StorageUnavailable
from ..domain.operation import Operation
from ..domain.states import Status

OUTCOMES = {Status.SUCCEEDED: "succeeded", Status.FAILED: "failed", Status.CANCELED: "canceled"}


class Instruments:
    """The app's instruments, made on one meter."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.submitted = meter.create_counter("bgops.operations.submitted", "{operation}", "Operations accepted.")
        self.started = meter.create_counter("bgops.attempts.started", "{attempt}", "Attempts started.")
        self.retried = meter.create_counter("bgops.attempts.retried", "{attempt}",
                                            "Attempts that failed and will be tried again.")
        self.poisoned = meter.create_counter("bgops.operations.poisoned", "{operation}",
                                             "Operations failed because their message was tried too often.")
        self.completed = meter.create_counter("bgops.operations.completed", "{operation}",
                                              "Operations finished, by outcome.")
        self.queue_wait = meter.create_histogram("bgops.queue.wait", "s",
                                                 "From submit to the first attempt's start.")
        self.process = meter.create_histogram("messaging.process.duration", "s", "How long each attempt ran.")
        self.delivery = meter.create_histogram("http.client.request.duration", "s",
                                               "How long each callback or event POST took.")


instruments = Instruments(metrics.get_meter("bgops"))


def watch_queue(oldest: Callable[[], float | None]) -> None:
    """Observe ``bgops.queue.oldest_age`` with ``oldest`` (the queue's ``oldest_waiting_seconds``) at each
    collection; 0 when nothing waits, nothing when storage does not answer."""
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        try:
            age = oldest()
        except StorageUnavailable:
            return []
        return [Observation(age or 0.0)]

    instruments.meter.create_observable_gauge("bgops.queue.oldest_age", [observe], "s",
                                              "How long the first operation waiting to run has waited.")


def _name(op: Operation, **more: Any) -> dict[str, Any]:
    return {"bgops.operation.name": op.name, **more}


def submitted(op: Operation) -> None:
    instruments.submitted.add(1, _name(op))


def started(op: Operation, attempt: int, now: datetime) -> None:
    """An attempt started; the first of an operation that was to run at once, its wait in the queue too."""
    instruments.started.add(1, _name(op))
    if attempt == 1 and not op.recurrencepattern and op.postponeuntil is None:
        instruments.queue_wait.record(max(0.0, (now - op.createdon).total_seconds()), _name(op))


def ran(op: Operation, seconds: float, outcome: str, queue: str) -> None:
    instruments.process.record(seconds, _name(op, **{"bgops.outcome": outcome, "messaging.operation.name": "process",
                                                     "messaging.destination.name": queue}))


def retried(op: Operation) -> None:
    instruments.retried.add(1, _name(op))


def poisoned(op: Operation) -> None:
    instruments.poisoned.add(1, _name(op))


def completed(op: Operation) -> None:
    """An operation reached Succeeded, Failed or Canceled (counted by whoever made it so)."""
    if op.status in OUTCOMES:
        instruments.completed.add(1, _name(op, **{"bgops.outcome": OUTCOMES[op.status]}))


def delivered(op_name: str, kind: str, seconds: float, status: int | None, detail: str) -> None:
    """A callback's or an event's POST: its duration, the status it got or how it failed (never the URL)."""
    attributes: dict[str, Any] = {"bgops.operation.name": op_name, "bgops.delivery.kind": kind,
                                  "http.request.method": "POST"}
    if status is not None:
        attributes["http.response.status_code"] = status
    if status is None or status >= 400:
        attributes["error.type"] = str(status) if status is not None else detail
    instruments.delivery.record(seconds, attributes)
