"""Every write of an operation row: ETag-conditional, and marked when it owes a completion event.

The write that finishes an operation also records, in the same write, that its completion
event is owed when a subscription matches (``eventsstate=owed``; see ``events``). Doing that
here, for every write, means no path that finishes an operation can forget it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..domain.errors import ConcurrencyConflict, StorageUnavailable
from ..domain.lines import holds_place, ticket
from ..domain.operation import EVENTS_OWED, Operation
from . import lines
from .container import Services

log = logging.getLogger(__name__)

MAX_ROUNDS = 8


def write(svc: Services, row: Operation) -> Operation:
    """Write ``row`` if the stored one still has ``row.etag``; raises ConcurrencyConflict or OperationNotFound.

    A row in a line (``domain.lines``) that now holds a place and has no ticket takes one, and one that no
    longer holds its place gives its ticket up, in this same write; the line itself is told after it.
    """
    key, held = row.concurrencykey, row.lineticket
    if key and holds_place(row.status) and not held:
        row = row.with_changes(lineticket=ticket(row.id, svc.clock()))
    elif held and not holds_place(row.status):
        row = row.with_changes(lineticket="")
    stored = svc.store.replace(_owing(svc, row))
    if stored.lineticket and not held:
        _join(svc, stored)
    elif held and not stored.lineticket:
        lines.give_up(svc, key, held)
    return stored


def _join(svc: Services, row: Operation) -> None:
    try:
        lines.join(svc, [row])
    except StorageUnavailable:  # it finds its ticket missing when its turn is looked at, and puts it back
        log.warning("Operation %s could not join its line yet.", row.id)


def _owing(svc: Services, row: Operation) -> Operation:
    if row.is_terminal and not row.eventsstate and svc.subscription_cache.matching(row):
        return row.with_changes(eventsstate=EVENTS_OWED)
    return row


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
