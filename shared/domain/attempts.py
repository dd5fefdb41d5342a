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
from datetime import datetime
from enum import Enum
from typing import Any

from .backoff import compute_backoff
from .error_codes import UNEXPECTED
from .operation import Operation
from .states import Event, Status

MAX_ERROR_MESSAGE_CHARS = 2000


class Ending(str, Enum):
    """How a handler's run ended."""

    SUCCEEDED = "succeeded"
    STOPPED = "stopped"  # it honoured a cancel or a pause
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What happened in an attempt, as the handler runner saw it."""

    ending: Ending
    outputs: dict[str, Any] | None = None
    errorcode: int | None = None
    errormessage: str | None = None
    retryable: bool = True


def succeeded(outputs: dict[str, Any]) -> Outcome:
    """The handler returned these outputs."""
    return Outcome(Ending.SUCCEEDED, outputs=outputs)


def stopped() -> Outcome:
    """The handler stopped early because a cancel or a pause was asked."""
    return Outcome(Ending.STOPPED)


def failed(code: int, message: str, *, retryable: bool = True) -> Outcome:
    """The handler failed; the message is cut so that it always fits the row."""
    return Outcome(Ending.FAILED, errorcode=code, errormessage=message[:MAX_ERROR_MESSAGE_CHARS],
                   retryable=retryable)


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


def start_attempt(row: Operation, message_id: str, attempt: int, now: datetime) -> Operation:
    """The row as attempt ``attempt`` starts: Locked, owned by this message, the last error cleared."""
    return row.apply(Event.START, now, messageid=message_id, retrycount=attempt - 1,
                     starttime=row.starttime or now, errorcode=None, errormessage=None)


def end_attempt(row: Operation, outcome: Outcome, attempt: int, policy: RetryPolicy, now: datetime,
                *, rng: random.Random | None = None) -> Plan:
    """The plan after attempt ``attempt`` ended with ``outcome``; TransitionRefused if it cannot apply."""
    last = attempt >= policy.max_attempts or not outcome.retryable
    event = {Ending.SUCCEEDED: Event.SUCCEED, Ending.STOPPED: Event.STOP}.get(
        outcome.ending, Event.FAIL_FINAL if last else Event.FAIL)
    new = row.conclude(event, now, **_changes(outcome))
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
    return row.apply(Event.FAIL, now, errorcode=UNEXPECTED, errormessage=message)


def poisoned(row: Operation, max_attempts: int, now: datetime) -> Operation:
    """The row when the host gave up on its message (the poison queue): it has failed for good."""
    message = ("The operation's queue message reached the poison queue: the host stopped or timed out "
               f"during its last attempt ({max_attempts} attempts in all).")
    return row.conclude(Event.POISON, now, errorcode=UNEXPECTED, errormessage=message)
