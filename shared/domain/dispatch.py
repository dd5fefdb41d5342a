"""What a worker does with a queue message, decided from the row alone (pure).

The queue may hold more than one message for an operation (a resume while a
postponed message waits, a message whose worker died, an at-least-once
send); the row's ``messageid`` says which message owns the current attempt.
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
    DEFER = "defer"  # postponed past this message: send a fresh one for later
    RESUME = "resume"  # postponeuntil has come: Suspended -> Ready
    START = "start"  # run an attempt
    RECOVER = "recover"  # this message's previous attempt died mid-run
    STOP_UNSTARTED = "stop_unstarted"  # canceled while unsure, and no attempt was ever recorded: Canceled


@dataclass(frozen=True)
class Decision:
    """An action, and for DEFER how many seconds to wait."""

    action: Action
    delay_seconds: float = 0.0


def decide(op: Operation, message_id: str, now: datetime, *,
           claim_timeout: timedelta = CALLBACK_CLAIM_TIMEOUT) -> Decision:
    """The next step for message ``message_id`` given the row ``op``."""
    if op.is_terminal:
        if op.eventsstate == EVENTS_OWED:
            return Decision(Action.PUBLISH_EVENTS)
        owed = callback_owed(op, now, message_id, claim_timeout=claim_timeout)
        return Decision(Action.DELIVER_CALLBACK if owed else Action.DROP)
    if op.status is Status.WAITING:
        if op.postponeuntil is None:
            return Decision(Action.DROP)  # paused: a resume sends a new message
        if op.postponeuntil > now:
            return Decision(Action.DEFER, (op.postponeuntil - now).total_seconds())
        return Decision(Action.RESUME)
    owned_by_other = bool(op.messageid) and op.messageid != message_id
    if op.status is Status.WAITING_FOR_RESOURCES:
        return Decision(Action.DROP if owned_by_other else Action.START)
    if op.status is Status.CANCELING and not op.messageid:
        return Decision(Action.STOP_UNSTARTED)
    # Locked: the message that locked it came back only if its worker died,
    # because a live host keeps renewing the visibility of a running message.
    return Decision(Action.DROP if op.messageid != message_id else Action.RECOVER)


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
