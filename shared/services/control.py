"""Reading and steering operations: status, cancel, pause, resume, postpone, list (SPEC §3.2-3.3)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..domain.errors import InvalidRequest, StorageUnavailable
from ..domain.operation import Operation
from ..domain.states import Event, State, Status
from ..storage.ports import ListQuery, Page
from .container import Services
from .callbacks import claim_callback, deliver_callback
from .rows import update_row

log = logging.getLogger(__name__)


def get_operation(svc: Services, operation_id: str) -> Operation:
    """One point read; raises OperationNotFound."""
    return svc.store.get(operation_id)


def list_operations(svc: Services, query: ListQuery) -> Page:
    """A page of rows, newest first."""
    return svc.store.list(query)


@dataclass(frozen=True)
class Change:
    """What a PATCH asks for: exactly one event, and for POSTPONE the time."""

    event: Event
    postpone_until: datetime | None = None


PATCHABLE = ("backgroundoperationstatecode", "backgroundoperationstatuscode", "postponeuntil")


def parse_change(body: Any, now: datetime) -> Change:
    """The state change a PATCH body asks for, the way the SDK expresses it."""
    if not isinstance(body, dict) or not body:
        raise InvalidRequest(f"The body must be a JSON object with one of: {', '.join(PATCHABLE)}.")
    unknown = sorted(set(body) - set(PATCHABLE))
    if unknown:
        raise InvalidRequest(f"Cannot change {', '.join(unknown)}; only {', '.join(PATCHABLE)} can be changed.")
    if "postponeuntil" in body:
        return Change(Event.POSTPONE, _future_time(body["postponeuntil"], now))
    state, status = body.get("backgroundoperationstatecode"), body.get("backgroundoperationstatuscode")
    if (state, status) in ((State.LOCKED, Status.CANCELING), (State.COMPLETED, Status.CANCELED)):
        return Change(Event.CANCEL)
    if state == State.SUSPENDED and status in (None, Status.WAITING, Status.PAUSING):
        return Change(Event.PAUSE)
    if state == State.READY and status in (None, Status.WAITING_FOR_RESOURCES):
        return Change(Event.RESUME)
    raise InvalidRequest("Unsupported state change: send statecode 2 with statuscode 22 to cancel, statecode 1 "
                         "to pause, statecode 0 to resume, or postponeuntil to postpone.")


def _future_time(value: Any, now: datetime) -> datetime:
    moment = parse_time(value, "postponeuntil")
    if moment <= now:
        raise InvalidRequest("postponeuntil must be in the future.")
    return moment


def parse_time(value: Any, what: str) -> datetime:
    """An ISO 8601 time with a zone (UTC if none is given); InvalidRequest otherwise."""
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{what} must be an ISO 8601 time such as 2030-01-31T12:00:00Z.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def cancel(svc: Services, operation_id: str) -> Operation:
    """Ask for cancellation: Canceled at once if it has not started, Canceling if it is running.

    Asking again while it is Canceling changes nothing and is not an error.
    """
    op = svc.store.get(operation_id)
    return op if op.status is Status.CANCELING else change(svc, op, Change(Event.CANCEL))


def change(svc: Services, row: str | Operation, what: Change) -> Operation:
    """Apply a caller's event to the row (ETag-conditional), then queue what the new state needs."""
    now = svc.clock()
    before = svc.store.get(row) if isinstance(row, str) else row
    extra = _changes_for(what)
    op = update_row(svc.store, before, lambda row: row.apply(what.event, now, **extra))
    log.info("Operation %s: %s -> %s.", op.id, what.event.value, op.status.name)
    if what.event is Event.RESUME:
        _enqueue_or_undo(svc, op, before)
    elif op.is_terminal and op.callbackurl:
        _enqueue_or_deliver(svc, op)
    return op


def _enqueue_or_undo(svc: Services, op: Operation, before: Operation) -> None:
    """A resumed operation needs a fresh message (its old one was consumed).

    Without one it would sit Ready forever, so if the message cannot be sent the
    row goes back to how it was and the caller gets the error (503) to retry.
    """
    try:
        svc.queue.enqueue(op.id)
    except StorageUnavailable:
        svc.store.replace(op.with_changes(status=before.status, postponeuntil=before.postponeuntil,
                                          messageid=before.messageid))
        raise


def _enqueue_or_deliver(svc: Services, op: Operation) -> None:
    """A cancel that finished an operation owes its callback: the worker sends it, or we do now."""
    try:
        svc.queue.enqueue(op.id)
    except StorageUnavailable:
        log.warning("Could not queue the callback of operation %s; delivering it now.", op.id)
        claimed = claim_callback(svc, op, svc.clock())
        if claimed:
            deliver_callback(svc, claimed)


def _changes_for(what: Change) -> dict[str, Any]:
    if what.event is Event.POSTPONE:
        return {"postponeuntil": what.postpone_until}
    if what.event is Event.RESUME:
        return {"postponeuntil": None, "messageid": ""}
    return {}
