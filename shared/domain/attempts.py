"""Attempts: how one starts, and everything that follows from how it ended, decided in one place.

The handler runner reports *what happened* (an ``Outcome``: succeeded, stopped, or failed and
whether a retry may help); ``end_attempt`` decides *what it means* for the row: the event
(FAIL or FAIL_FINAL by the attempts left), the columns it sets, the retry count, and the backoff
before the next attempt (dramatiq's ``Retries.after_process_message``). The worker only applies
the plan. Pure: no storage, no clock but the ``now`` it is given.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from .backoff import compute_backoff
from .error_codes import UNEXPECTED
from .history import masked, with_end, with_start
from .operation import Operation
from .recurrence import end_run
from .states import Event, Status

MAX_ERROR_MESSAGE_CHARS = 2000

# An attempt that starts while its row is this young may run without first writing In Progress
# (its message carries the row, so it needs no read either): the write that ends it records
# the start too. One that outlives this window, or reports progress, is recorded then. This is
# what brings a quick operation down to four storage transactions.
UNRECORDED_WINDOW = timedelta(seconds=5)
# A cancel of a Ready row this young, with no attempt recorded, cannot know that no worker is
# running it unrecorded: it asks (Canceling) rather than ends (Canceled). The margin covers
# clock skew between instances and the time the recording write takes.
CANCEL_UNSURE_WINDOW = UNRECORDED_WINDOW + timedelta(seconds=5)


def second_message_at(op: Operation, delay_seconds: float) -> datetime:
    """When a second first message of a new row may become visible: after the first's ``delay_seconds``, and after
    a worker that got the first one would have recorded that it runs it (so that the two never both run it)."""
    return max(op.createdon + timedelta(seconds=delay_seconds), op.createdon + CANCEL_UNSURE_WINDOW)


class Ending(str, Enum):
    """How a handler's run ended."""

    SUCCEEDED = "succeeded"
    STOPPED = "stopped"  # it honoured a cancel or a pause
    FAILED = "failed"


# How each ending reads in the row's history of attempts; LOST: its worker died before it ended.
ENDINGS = {Ending.SUCCEEDED: "Succeeded", Ending.STOPPED: "Stopped", Ending.FAILED: "Failed"}
LOST = "Lost"


@dataclass(frozen=True)
class Outcome:
    """What happened in an attempt, as the handler runner saw it."""

    ending: Ending
    outputs: dict[str, Any] | None = None
    errorcode: int | None = None
    errormessage: str | None = None
    retryable: bool = True
    traceback: str | None = None  # an unexpected exception's last frames


def succeeded(outputs: dict[str, Any]) -> Outcome:
    """The handler returned these outputs."""
    return Outcome(Ending.SUCCEEDED, outputs=outputs)


def stopped() -> Outcome:
    """The handler stopped early because a cancel or a pause was asked."""
    return Outcome(Ending.STOPPED)


def failed(code: int, message: str, *, retryable: bool = True, traceback: str | None = None) -> Outcome:
    """The handler failed; the message is cut so that it always fits the row, and any query string or key in
    it masked (``history.masked``)."""
    return Outcome(Ending.FAILED, errorcode=code, errormessage=masked(message)[:MAX_ERROR_MESSAGE_CHARS],
                   retryable=retryable, traceback=traceback)


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts an operation gets (host.json maxDequeueCount) and the first retry delay."""

    max_attempts: int
    base_seconds: float


@dataclass(frozen=True)
class Plan:
    """The row to write, and how long to hide the trigger message before the next attempt (a retry)."""

    row: Operation
    retry_after_seconds: float | None = None


def may_start_from_message(row: Operation, attempt: int) -> bool:
    """True if a worker may decide on the row a first message carries without reading it: a Ready row that
    nothing has started, whatever its age. Past the unrecorded window its start is written before it runs, on
    the condition that the row has not changed since it was inserted (the ETag it carries): the write a read
    would have been followed by, without the read. A conflict means that it changed (a cancel, a pause, a
    postponement): the worker reads it then, and decides again."""
    return attempt == 1 and _unstarted(row)


def may_run_unrecorded(row: Operation, attempt: int, now: datetime) -> bool:
    """True if a worker holding ``row`` from its message (no read) may start it without writing first."""
    return attempt == 1 and _young_and_unstarted(row, now, UNRECORDED_WINDOW)


def recording_due(row: Operation, now: datetime) -> float:
    """Seconds until an unrecorded attempt of ``row`` must write that it is In Progress."""
    return max(0.0, min((row.createdon + UNRECORDED_WINDOW - now).total_seconds(),
                        UNRECORDED_WINDOW.total_seconds()))


def cancel_event(row: Operation, now: datetime) -> Event:
    """CANCEL, or CANCEL_UNSURE for a young Ready row that a worker may be running unrecorded."""
    return Event.CANCEL_UNSURE if _young_and_unstarted(row, now, CANCEL_UNSURE_WINDOW) else Event.CANCEL


def _young_and_unstarted(row: Operation, now: datetime, window: timedelta) -> bool:
    return _unstarted(row) and now - row.createdon < window


def _unstarted(row: Operation) -> bool:
    # A row that runs one at a time is read, and recorded, before it runs: its turn is looked at first.
    return row.status is Status.WAITING_FOR_RESOURCES and not row.messageid and not row.concurrencykey


def start_attempt(row: Operation, message_id: str, attempt: int, now: datetime) -> Operation:
    """The row as attempt ``attempt`` starts: Locked, owned by this message, the last error cleared, and
    the start kept with the others of this run (``attempts``, domain.history)."""
    return row.apply(Event.START, now, messageid=message_id, retrycount=attempt - 1,
                     starttime=row.starttime or now, errorcode=None, errormessage=None,
                     attempts=with_start(row.attempts, attempt, now))


def superseded(row: Operation, message_id: str, attempt: int) -> bool:
    """True when ``row`` has moved on past attempt ``attempt`` of message ``message_id`` (fencing): another
    message owns it, or a later attempt started or ended. A late attempt must not write over that."""
    if row.messageid and row.messageid != message_id:
        return True
    if row.status is Status.WAITING_FOR_RESOURCES:
        return row.retrycount > attempt - 1
    return not row.is_terminal and row.retrycount != attempt - 1


def started(row: Operation, message_id: str, attempt: int, at: datetime) -> Operation:
    """``row`` with attempt ``attempt`` recorded as started ``at``, unless it already is (or was asked to stop)."""
    return start_attempt(row, message_id, attempt, at) if row.status is Status.WAITING_FOR_RESOURCES else row


def end_attempt(row: Operation, outcome: Outcome, attempt: int, policy: RetryPolicy, now: datetime,
                *, rng: random.Random | None = None) -> Plan:
    """The plan after attempt ``attempt`` ended with ``outcome``; TransitionRefused if it cannot apply.

    ``row`` is the row as stored, with the attempt recorded as started (see ``started``).
    """
    last = attempt >= policy.max_attempts or not outcome.retryable
    event = {Ending.SUCCEEDED: Event.SUCCEED, Ending.STOPPED: Event.STOP}.get(
        outcome.ending, Event.FAIL_FINAL if last else Event.FAIL)
    ended = row.with_changes(attempts=with_end(
        row.attempts, attempt, now, ENDINGS[outcome.ending], errorcode=outcome.errorcode,
        errormessage=outcome.errormessage, traceback=outcome.traceback))
    new = end_run(ended, event, now, **_changes(outcome))
    if new.status is not Status.WAITING_FOR_RESOURCES:
        return Plan(new)
    return Plan(new.with_changes(retrycount=attempt),
                compute_backoff(attempt, base_seconds=policy.base_seconds, rng=rng))


def _changes(outcome: Outcome) -> dict[str, Any]:
    if outcome.ending is Ending.SUCCEEDED:
        return {"outputs": outcome.outputs, "progresspercent": 100, "progressmessage": ""}
    if outcome.ending is Ending.STOPPED:
        return {}
    return {"errorcode": outcome.errorcode, "errormessage": outcome.errormessage}


def lost_attempt(row: Operation, attempt: int, now: datetime) -> Operation:
    """The row when attempt ``attempt`` died mid-run (its message came back): a failed attempt."""
    message = f"The worker running attempt {attempt} stopped before it finished (host restart or timeout)."
    return row.apply(Event.FAIL, now, errorcode=UNEXPECTED, errormessage=message,
                     attempts=with_end(row.attempts, attempt, now, LOST, errorcode=UNEXPECTED, errormessage=message))


def stop_unstarted(row: Operation, now: datetime) -> Operation:
    """The row when a cancel asked of it while unsure turns out to have stopped it before any attempt ran."""
    return row.conclude(Event.STOP, now)


def poisoned(row: Operation, max_attempts: int, now: datetime) -> Operation:
    """The row when the host gave up on its message (the poison queue): it has failed for good."""
    message = ("The operation's queue message reached the poison queue: the host stopped or timed out "
               f"during its last attempt ({max_attempts} attempts in all).")
    history = row.attempts
    if row.status is Status.IN_PROGRESS:  # its last attempt was recorded as started, and never ended
        history = with_end(history, row.retrycount + 1, now, LOST, errorcode=UNEXPECTED, errormessage=message)
    return end_run(row.with_changes(attempts=history), Event.POISON, now, errorcode=UNEXPECTED, errormessage=message)
