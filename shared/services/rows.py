"""Every write of an operation row: ETag-conditional, carrying its line ticket and its owed completion event,
then telling its line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from ..domain.errors import ConcurrencyConflict, StorageUnavailable
from ..domain.lines import holds_place, ticket
from ..domain.operation import EVENTS_OWED, Operation
from . import lines
from .container import Services

log = logging.getLogger(__name__)

MAX_ROUNDS = 8


def write(svc: Services, row: Operation) -> Operation:
    """Write ``row`` if the stored one still has ``row.etag``; raises ConcurrencyConflict or OperationNotFound.

    Three named steps: what the write carries besides the caller's change (``with_ticket``, ``owing``), the
    conditional write, and what follows it for the row's line (``tell_line``) and for requests waiting for it
    to finish (``finishes``)."""
    stored = svc.store.replace(owing(svc, with_ticket(row, svc.clock())))
    tell_line(svc, row, stored)
    if stored.is_terminal:
        svc.finishes.finished(stored.id)
    return stored


def with_ticket(row: Operation, now: datetime) -> Operation:
    """A row in a line (``domain.lines``) that now holds a place and has no ticket takes one; one that no longer
    holds its place gives its ticket up; in the same write as the change that made it so."""
    if row.concurrencykey and holds_place(row.status) and not row.lineticket:
        return row.with_changes(lineticket=ticket(row.id, now))
    if row.lineticket and not holds_place(row.status):
        return row.with_changes(lineticket="")
    return row


def owing(svc: Services, row: Operation) -> Operation:
    """A row that finishes owes its completion event when a subscription matches, in the same write, so that no
    path that finishes an operation can forget it (``events``)."""
    if row.is_terminal and not row.eventsstate and svc.subscription_cache.matching(row):
        return row.with_changes(eventsstate=EVENTS_OWED)
    return row


def tell_line(svc: Services, before: Operation, stored: Operation) -> None:
    """After the write: the line of a row that took a ticket learns of it, and one whose row gave its ticket up
    hands on."""
    if stored.lineticket and not before.lineticket:
        try:
            lines.join(svc, [stored])
        except StorageUnavailable:  # it finds its ticket missing when its turn is looked at, and puts it back
            log.warning("Operation %s could not join its line yet.", stored.id)
    elif before.lineticket and not stored.lineticket:
        lines.give_up(svc, before.concurrencykey, before.lineticket)


def update_row(svc: Services, op: Operation, change: Callable[[Operation], Operation | None]) -> Operation:
    """Apply ``change`` to ``op`` and write it if the row is unchanged; on a conflict read it again.

    ``change`` returns the new row, or None to write nothing; it may raise
    (TransitionRefused, say), which ends the attempt. Returns the row as stored.
    """
    for _ in range(MAX_ROUNDS):
        new = change(op)
        if new is None:
            return op
        try:
            return write(svc, new)
        except ConcurrencyConflict:
            op = svc.store.get(op.id)
    raise ConcurrencyConflict(f"Operation {op.id} kept changing; gave up after {MAX_ROUNDS} tries.")
