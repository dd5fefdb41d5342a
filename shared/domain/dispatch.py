"""What a worker does with a queue message, decided from the row alone (pure): ``decide``.

The queue may hold more than one message for an operation (a resume while a
postponed message waits, a message whose worker died, an at-least-once
send); the row's ``messageid`` says which message owns the current attempt.
The worker (services.worker) only carries decisions out, and decides again on
the row each step leaves, until one says there is nothing more to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from .callbacks import DeliveryPolicy
from .operation import EVENTS_OWED, CallbackState, Operation
from .states import Status

CALLBACK_CLAIM_TIMEOUT = DeliveryPolicy().claim_timeout  # with the default settings


class Action(str, Enum):
    """The kinds of thing a message can lead to."""

    DROP = "drop"  # nothing to do: finished, owned by another message, or paused
    PUBLISH_EVENTS = "publish_events"  # finished, and its completion event is still owed to subscribers
    DELIVER_CALLBACK = "deliver_callback"  # finished, and its callback is still owed
    DEFER = "defer"  # postponed past this message, or a claim on its callback stands: a fresh message for later
    RESUME = "resume"  # postponeuntil has come: Suspended -> Ready
    START = "start"  # run an attempt
    RECOVER = "recover"  # this message's previous attempt died mid-run
    STOP_UNSTARTED = "stop_unstarted"  # canceled while unsure, and no attempt was ever recorded: Canceled
    FAIL = "fail"  # every attempt was made (or the host gave up on the message): Failed
    TAKE_TICKET = "take_ticket"  # one at a time, and no place in its line yet: write the row, which takes one
    LOOK_AT_LINE = "look_at_line"  # one at a time: whose turn it is decides (decide again, given the line)
    WAIT_IN_LINE = "wait_in_line"  # another is ahead in its line: look again after the recheck interval


@dataclass(frozen=True)
class Decision:
    """An action, and for DEFER and WAIT_IN_LINE how many seconds to wait."""

    action: Action
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class Arrival:
    """What a decision needs of a message: its id, the attempt it would start, and how it came."""

    message_id: str
    attempt: int = 1
    wake: bool = False  # sent because the operation's turn came in its line
    poisoned: bool = False  # the host gave up on it and moved it to the poison queue


@dataclass(frozen=True)
class Rules:
    """The settings a decision depends on."""

    max_attempts: int = 4
    claim_timeout: timedelta = CALLBACK_CLAIM_TIMEOUT
    line_recheck_seconds: float = 300.0


@dataclass(frozen=True)
class Line:
    """What a look at the operation's line found: the id of the operation whose turn it is, or "" if its own."""

    ahead: str = ""


def decide(op: Operation, arrival: Arrival, now: datetime, rules: Rules = Rules(), line: Line | None = None
           ) -> Decision:
    """The next step for the message that ``arrival`` describes, given the row ``op`` (and, once asked for
    by LOOK_AT_LINE, its ``line``)."""
    if op.is_terminal:
        return _finished(op, arrival, now, rules)
    if arrival.poisoned:
        return Decision(Action.FAIL)
    if op.status is Status.WAITING:
        if op.postponeuntil is None:
            return Decision(Action.DROP)  # paused: a resume sends a new message
        if op.postponeuntil > now:
            return Decision(Action.DEFER, (op.postponeuntil - now).total_seconds())
        return Decision(Action.RESUME)
    owned_by_other = bool(op.messageid) and op.messageid != arrival.message_id
    if op.status is Status.WAITING_FOR_RESOURCES:
        return Decision(Action.DROP) if owned_by_other else _start(op, arrival, rules, line)
    if op.status is Status.CANCELING and not op.messageid:
        return Decision(Action.STOP_UNSTARTED)
    # Locked: the message that locked it came back only if its worker died,
    # because a live host keeps renewing the visibility of a running message.
    return Decision(Action.DROP if op.messageid != arrival.message_id else Action.RECOVER)


def _finished(op: Operation, arrival: Arrival, now: datetime, rules: Rules) -> Decision:
    """A finished operation's message: what it still owes. The poison queue's copy of a message cannot say
    whether the standing claim on a callback was its own worker's: it looks again when the claim lapses."""
    if op.eventsstate == EVENTS_OWED:
        return Decision(Action.PUBLISH_EVENTS)
    message_id = "" if arrival.poisoned else arrival.message_id
    if callback_owed(op, now, message_id, claim_timeout=rules.claim_timeout):
        return Decision(Action.DELIVER_CALLBACK)
    if arrival.poisoned and (lapses := claim_expires(op, rules.claim_timeout)) is not None:
        return Decision(Action.DEFER, (lapses - now).total_seconds() + 1)
    return Decision(Action.DROP)


def _start(op: Operation, arrival: Arrival, rules: Rules, line: Line | None) -> Decision:
    if arrival.attempt > rules.max_attempts:  # only a retry sent as a new message: the host poisons its own
        return Decision(Action.FAIL)
    if not op.concurrencykey:
        return Decision(Action.START)
    if not op.lineticket:
        return Decision(Action.TAKE_TICKET)
    if line is None:
        return Decision(Action.LOOK_AT_LINE)
    if not line.ahead:
        return Decision(Action.START)
    # Not its turn: a wake that came too soon is dropped (no second message); any other looks again later.
    return Decision(Action.DROP) if arrival.wake else Decision(Action.WAIT_IN_LINE, rules.line_recheck_seconds)


def callback_owed(op: Operation, now: datetime, message_id: str = "", *,
                  claim_timeout: timedelta = CALLBACK_CLAIM_TIMEOUT) -> bool:
    """A finished operation's callback is owed if nobody claimed it, or its claimant is gone: the claim is
    older than ``claim_timeout``, or ``message_id`` is the message whose worker claimed it. A message comes
    back only once its worker failed or died, so that worker is not delivering (the write that ended the
    operation may have reached storage although its answer did not)."""
    if op.callbackstate is CallbackState.PENDING:
        return True
    claimed = op.callbackclaimedon
    return op.callbackstate is CallbackState.SENDING and (
        claimed is None or now - claimed > claim_timeout or bool(message_id and op.messageid == message_id))


def claim_expires(op: Operation, claim_timeout: timedelta) -> datetime | None:
    """When the claim on a finished operation's callback lapses, if one is standing."""
    if op.callbackstate is not CallbackState.SENDING or op.callbackclaimedon is None:
        return None
    return op.callbackclaimedon + claim_timeout
