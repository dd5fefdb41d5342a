"""Running one at a time (``domain.lines``): joining a line, whose turn it is, giving a place up.

Waiting costs no polling. An operation that finds another ahead of it in its line sends its message
back for BGOPS_LINE_RECHECK_SECONDS (300): a safety net, not the way it normally starts. The operation
ahead, once it gives its place up (finished, paused, postponed), takes its ticket out and sends the
operation now first a *wake* message, which starts it at once (and is dropped if it finds nothing to
start, so that waiting operations never gather more messages).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ..domain.errors import OperationNotFound, StorageUnavailable
from ..domain.lines import holds_place, ticket_operation
from ..domain.operation import Operation
from ..domain.states import Status
from .container import Services

log = logging.getLogger(__name__)
TICKETS_READ = 5  # tickets read per look at a line; stale ones met at its head are deleted
MAX_LOOKS = 10


def join(svc: Services, ops: Iterable[Operation]) -> None:
    """Put the tickets of these rows (as written) in their lines; raises StorageUnavailable."""
    by_line: dict[str, list[str]] = {}
    for op in ops:
        if op.concurrencykey and op.lineticket:
            by_line.setdefault(op.concurrencykey, []).append(op.lineticket)
    for key, tickets in by_line.items():
        svc.lines.join(key, tickets)


def ahead_of(svc: Services, op: Operation) -> Operation | None:
    """The operation whose turn it is in ``op``'s line, or None when it is ``op``'s own turn.

    Stale tickets met at the head of the line are taken out; ``op``'s own ticket, if it is not in the
    line (its join failed, or someone took it for stale), is put back where it was taken.
    """
    for _ in range(2):
        ticket, holder = _first(svc, op.concurrencykey, mine=op.lineticket)
        if ticket == op.lineticket:
            return None
        if holder is not None:
            return holder
        svc.lines.join(op.concurrencykey, [op.lineticket])
    return op  # a line that kept changing: wait, and look again later


def waiting_behind(svc: Services, op: Operation) -> str | None:
    """The id of the operation whose turn it is in the line ``op`` waits in (None when ``op`` waits in no line,
    or it is its own turn). Read only, for people: a stale ticket met on the way is passed over, not taken out.
    """
    if op.status is not Status.WAITING_FOR_RESOURCES or not (op.concurrencykey and op.lineticket):
        return None
    for ticket in svc.lines.first(op.concurrencykey, TICKETS_READ):
        if ticket == op.lineticket:
            return None
        if (holder := _holder(svc, ticket)) is not None:
            return holder.id
    return None


def give_up(svc: Services, key: str, ticket: str) -> None:
    """An operation left its place: take its ticket out and wake the one whose turn it is now. Best
    effort: a ticket left behind is stale and whoever meets it takes it out, and an operation not woken
    looks again on its own within BGOPS_LINE_RECHECK_SECONDS."""
    try:
        svc.lines.leave(key, ticket)
        _wake_first(svc, key)
    except StorageUnavailable:
        log.warning("Could not hand a line on after ticket %s; the next operation looks again on its own.", ticket)


def hand_on(svc: Services, key: str) -> None:
    """Whoever finds a finished operation of line ``key`` (its worker died before giving its place up):
    take the stale tickets at the head of the line out and wake the one whose turn it is now. Best effort."""
    try:
        _wake_first(svc, key)
    except StorageUnavailable:
        log.warning("Could not look at a line after a finished operation; the next one looks again on its own.")


def _wake_first(svc: Services, key: str) -> None:
    _, first = _first(svc, key)
    if first is not None and first.status is Status.WAITING_FOR_RESOURCES and not first.messageid:
        svc.queue.enqueue(first.id, wake=True)
        log.info("Operation %s: its turn came (woken).", first.id)


def _first(svc: Services, key: str, mine: str = "") -> tuple[str | None, Operation | None]:
    """The first ticket of line ``key`` that still holds its place, and its holder's row (``mine`` counts as
    held, unread: no row). Stale tickets met on the way are taken out. (None, None): none found."""
    for _ in range(MAX_LOOKS):
        tickets = svc.lines.first(key, TICKETS_READ)
        for ticket in tickets:
            if ticket == mine:
                return ticket, None
            holder = _holder(svc, ticket)
            if holder is not None:
                return ticket, holder
            svc.lines.leave(key, ticket)
        if len(tickets) < TICKETS_READ:
            break
    return None, None


def _holder(svc: Services, ticket: str) -> Operation | None:
    """The row a ticket is for, if it still holds that place (else the ticket is stale)."""
    try:
        row = svc.store.get(ticket_operation(ticket))
    except OperationNotFound:
        return None
    return row if row.lineticket == ticket and holds_place(row.status) else None
