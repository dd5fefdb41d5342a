"""Reading and steering operations: status, cancel, pause, resume, postpone, list (SPEC §3.2-3.3)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime

from ..domain.attempts import cancel_event
from ..domain.callers import Caller
from ..domain.errors import (
    ConcurrencyConflict,
    InvalidRequest,
    OperationNotFound,
    PreconditionFailed,
    StorageUnavailable,
    UnknownOperation,
)
from ..domain.operation import EVENTS_OWED, Operation
from ..domain.states import REQUESTED, Event, Status, describe
from ..storage.ports import ListQuery, Page
from ..telemetry import metrics, spans
from .callbacks import deliver_owed_callback
from .container import Services
from .rows import update_row, write

log = logging.getLogger(__name__)


def get_operation(svc: Services, operation_id: str, caller: Caller) -> Operation:
    """One point read; OperationNotFound when there is none, or none this caller may see."""
    return _visible(svc.store.get(operation_id), caller)


def _visible(op: Operation, caller: Caller) -> Operation:
    """The row, if the caller may see it; to anyone else it does not exist (no 403 that says it does)."""
    if not caller.may_see(op.runas):
        raise OperationNotFound(op.id)
    return op


def list_operations(svc: Services, query: ListQuery, caller: Caller) -> Page:
    """A page of rows, newest first: the caller's own, or everyone's for an admin."""
    return svc.store.list(dataclasses.replace(query, owner=caller.owner))


@dataclass(frozen=True)
class Change:
    """What a PATCH asks for: exactly one event, and for POSTPONE the time."""

    event: Event
    postpone_until: datetime | None = None


def cancel(svc: Services, operation_id: str, caller: Caller, *, if_match: str | None = None) -> Operation:
    """Ask for cancellation: Canceled at once if it has not started, Canceling if it is running,
    or may be (``domain.attempts.cancel_event``). Asking again, while it is Canceling or once it is
    Canceled, changes nothing and is not an error (concurrent DELETEs all answer 200)."""
    return change(svc, operation_id, Change(Event.CANCEL), caller, if_match=if_match)


def _matching(op: Operation, if_match: str | None) -> Operation:
    """The row, if the caller's ``If-Match`` allows a change to it (absent or ``*``: any version)."""
    tags = [tag.strip() for tag in (if_match or "*").split(",")]
    if "*" not in tags and op.version_tag not in tags:
        raise PreconditionFailed(op.id)
    return op


def change(svc: Services, row: str | Operation, what: Change, caller: Caller, *, if_match: str | None = None
           ) -> Operation:
    """Apply a caller's event to the row (ETag-conditional), then queue what the new state needs.

    With ``if_match``, the change applies only to that version of the row: a
    row that changed before or during the write is PreconditionFailed.
    """
    now = svc.clock()
    before = _visible(svc.store.get(row) if isinstance(row, str) else row, caller)
    _check_not_restricted(svc, before, what.event)
    with spans.steering(before, what.event.value) as span:
        op = update_row(svc, before, lambda row: _changed(_matching(row, if_match), what, now))
        span.set({"status": op.status.name})
        log.info("Operation %s: %s -> %s.", op.id, what.event.value, op.status.name)
        if what.event is Event.RESUME:
            _enqueue_or_undo(svc, op, before)
        elif op.is_terminal and (op.callbackurl or op.eventsstate == EVENTS_OWED):
            _enqueue_or_deliver(svc, op)
        if op.is_terminal and not before.is_terminal:
            metrics.completed(op)
    return op


RESTRICTED = (Event.CANCEL, Event.PAUSE, Event.RESUME)


def _check_not_restricted(svc: Services, op: Operation, event: Event) -> None:
    """Seed 003: callers may not cancel, pause or resume a system job (they may postpone it)."""
    try:
        restricted = event in RESTRICTED and svc.registry.get(op.name).system_job
    except UnknownOperation:
        return
    if restricted:
        asked = REQUESTED[event]
        raise InvalidRequest(f"Cannot {event.value} '{op.name}' (to {describe(asked)}) while it is "
                             f"{describe(op.status)}: it is a system job: callers may not cancel, pause or resume "
                             "it.")


def _enqueue_or_undo(svc: Services, op: Operation, before: Operation) -> None:
    """A resumed operation needs a fresh message (its old one was consumed).

    Without one it would sit Ready forever, so if the message cannot be sent the
    row goes back to how it was and the caller gets the error (503) to retry.
    """
    try:
        svc.queue.enqueue(op.id)
    except StorageUnavailable:
        # The one write outside the transition table: it undoes this call's own
        # resume, and only while the row is still as this call left it.
        undo = op.with_changes(status=before.status, postponeuntil=before.postponeuntil, modifiedon=before.modifiedon)
        try:
            write(svc, undo)
        except (ConcurrencyConflict, OperationNotFound):
            log.warning("Operation %s changed while its resume was being undone.", op.id)
        raise


def _enqueue_or_deliver(svc: Services, op: Operation) -> None:
    """A cancel that finished an operation owes its event and callback: a worker sends them, or we
    deliver the callback now (its event stays owed on the row: publishing needs the queue too)."""
    try:
        svc.queue.enqueue(op.id)
    except StorageUnavailable:
        log.warning("Could not queue the callback and event of operation %s; delivering the callback now.", op.id)
        if op.callbackurl:
            deliver_owed_callback(svc, op, svc.clock())


def _changed(row: Operation, what: Change, now: datetime) -> Operation | None:
    """The row after the caller's change; None when there is nothing to write (a repeated cancel)."""
    if what.event is Event.CANCEL:
        if row.status in (Status.CANCELING, Status.CANCELED):  # asked again: the answer stands, nothing to write
            return None
        return row.apply(cancel_event(row, now), now)
    extra = {"postponeuntil": what.postpone_until} if what.event is Event.POSTPONE else {}
    return row.apply(what.event, now, **extra)
