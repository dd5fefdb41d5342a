"""States of a background operation and the transitions between them (SPEC §2).

The table below *is* the state machine: ``transition`` looks an event up in it
and refuses everything that is not there. It never touches storage; callers
apply the result with an ETag-conditional write.
"""

from __future__ import annotations

from enum import Enum, IntEnum

from .errors import BackgroundOperationError


class State(IntEnum):
    """``backgroundoperationstatecode``."""

    READY = 0
    SUSPENDED = 1
    LOCKED = 2
    COMPLETED = 3


class Status(IntEnum):
    """``backgroundoperationstatuscode``; each one belongs to exactly one state."""

    WAITING_FOR_RESOURCES = 0
    WAITING = 10
    IN_PROGRESS = 20
    PAUSING = 21
    CANCELING = 22
    SUCCEEDED = 30
    FAILED = 31
    CANCELED = 32

    @property
    def state(self) -> State:
        """The state this status reason belongs to (its tens digit)."""
        return State(self.value // 10)

    @property
    def is_terminal(self) -> bool:
        """True for the Completed statuses, which never change again."""
        return self.state is State.COMPLETED

    @property
    def label(self) -> str:
        """The formatted value Dataverse shows for this status reason."""
        return STATUS_LABELS[self]


STATE_LABELS = {
    State.READY: "Ready",
    State.SUSPENDED: "Suspended",
    State.LOCKED: "Locked",
    State.COMPLETED: "Completed",
}

STATUS_LABELS = {
    Status.WAITING_FOR_RESOURCES: "Waiting For Resources",
    Status.WAITING: "Waiting",
    Status.IN_PROGRESS: "In Progress",
    Status.PAUSING: "Pausing",
    Status.CANCELING: "Canceling",
    Status.SUCCEEDED: "Succeeded",
    Status.FAILED: "Failed",
    Status.CANCELED: "Canceled",
}


class Event(str, Enum):
    """Something that happens to an operation."""

    START = "start"  # a worker starts an attempt
    CANCEL = "cancel"  # a caller asks for cancellation
    CANCEL_UNSURE = "cancel_unsure"  # the same, of a Ready row a worker may already be running unrecorded
    POSTPONE = "postpone"  # a caller sets postponeuntil in the future
    RESUME = "resume"  # a caller resumes it, or postponeuntil is reached
    PAUSE = "pause"  # a caller asks a running operation to pause
    SUCCEED = "succeed"  # the handler returned its outputs
    FAIL = "fail"  # the handler failed and attempts are left
    FAIL_FINAL = "fail_final"  # the handler failed for good (none left, or non-retryable)
    STOP = "stop"  # the handler honoured a pause or cancel request
    POISON = "poison"  # the host gave up on its message (poison queue)
    RECUR = "recur"  # a run of a recurring job ended and another occurrence comes: wait for it


S = Status
E = Event

# (from status, event) -> to status. SPEC §2, plus POISON (SPEC §4: a
# message that reaches the poison queue marks its operation Failed; a
# cancel that was asked for still wins) and STOP on a running attempt with
# nothing asked, which is a handler bug and counts as a failure.
TRANSITIONS: dict[tuple[Status, Event], Status] = {
    (S.WAITING_FOR_RESOURCES, E.START): S.IN_PROGRESS,
    (S.WAITING_FOR_RESOURCES, E.CANCEL): S.CANCELED,
    (S.WAITING_FOR_RESOURCES, E.CANCEL_UNSURE): S.CANCELING,
    (S.WAITING_FOR_RESOURCES, E.POSTPONE): S.WAITING,
    (S.WAITING_FOR_RESOURCES, E.POISON): S.FAILED,
    (S.WAITING, E.RESUME): S.WAITING_FOR_RESOURCES,
    (S.WAITING, E.CANCEL): S.CANCELED,
    (S.WAITING, E.POISON): S.FAILED,
    (S.IN_PROGRESS, E.SUCCEED): S.SUCCEEDED,
    (S.IN_PROGRESS, E.FAIL): S.WAITING_FOR_RESOURCES,
    (S.IN_PROGRESS, E.FAIL_FINAL): S.FAILED,
    (S.IN_PROGRESS, E.STOP): S.FAILED,
    (S.IN_PROGRESS, E.CANCEL): S.CANCELING,
    (S.IN_PROGRESS, E.PAUSE): S.PAUSING,
    (S.IN_PROGRESS, E.POISON): S.FAILED,
    (S.PAUSING, E.SUCCEED): S.SUCCEEDED,
    (S.PAUSING, E.STOP): S.WAITING,
    (S.PAUSING, E.FAIL): S.WAITING,
    (S.PAUSING, E.FAIL_FINAL): S.WAITING,
    (S.PAUSING, E.CANCEL): S.CANCELING,
    (S.PAUSING, E.POISON): S.FAILED,
    (S.WAITING_FOR_RESOURCES, E.RECUR): S.WAITING,  # its message was poisoned before the run started
    (S.WAITING, E.RECUR): S.WAITING,  # ... or while it waited
    (S.IN_PROGRESS, E.RECUR): S.WAITING,
    (S.PAUSING, E.RECUR): S.WAITING,
    (S.CANCELING, E.SUCCEED): S.SUCCEEDED,
    (S.CANCELING, E.STOP): S.CANCELED,
    (S.CANCELING, E.FAIL): S.CANCELED,
    (S.CANCELING, E.FAIL_FINAL): S.CANCELED,
    (S.CANCELING, E.POISON): S.CANCELED,
}


# The status a caller's event asks for, named in refusals ("from X to Y").
REQUESTED: dict[Event, Status] = {
    E.CANCEL: S.CANCELING,
    E.CANCEL_UNSURE: S.CANCELING,
    E.POSTPONE: S.WAITING,
    E.RESUME: S.WAITING_FOR_RESOURCES,
    E.PAUSE: S.PAUSING,
    E.START: S.IN_PROGRESS,
}


def transition(status: Status, event: Event) -> Status:
    """Return the status ``event`` leads to from ``status``, or raise TransitionRefused."""
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        refused = OperationFinished if status.is_terminal else TransitionRefused
        raise refused(status, event) from None


def describe(status: Status) -> str:
    """``Locked/In Progress (2/20)``: how messages name a status."""
    return f"{STATE_LABELS[status.state]}/{status.label} ({status.state.value}/{status.value})"


class TransitionRefused(BackgroundOperationError):
    """SPEC §2 does not allow this event in this state."""

    def __init__(self, status: Status, event: Event) -> None:
        asked = REQUESTED.get(event)
        move = f" (to {describe(asked)})" if asked is not None else ""
        if status.is_terminal:
            text = (f"Cannot {event.value} the operation{move}: it is {describe(status)}, and that is "
                    "not allowed after it is in terminal state.")
        else:
            text = f"Cannot {event.value} the operation{move} while it is {describe(status)}."
        super().__init__(text)
        self.status = status
        self.event = event


class OperationFinished(TransitionRefused):
    """The operation is Completed: nothing may change it any more."""
