"""A submit sent again with its Idempotency-Key (``domain.idempotency``): the operation the key was first sent
for, never a second one.

The first request inserts its row with the key's row (one entity group transaction), queues the message and
then marks the key accepted (one merge: a submit with a key costs one transaction more than one without). A
request whose insert finds the key taken reads the key's row and the operation's: a different request is
refused (422); an accepted key answers the operation as it is now; a key not yet accepted is either still being
queued by its first request (409 with Retry-After) or, after ``ADOPT_AFTER``, was left behind by a request that
died between the row and the message: this request then queues a message for it and marks the key accepted on
the ETag it read, so that the first request, if it is alive after all and gives up, leaves the row alone
(``OperationStore.delete``).
"""

from __future__ import annotations

import logging

from ..domain.attempts import second_message_at
from ..domain.errors import ConcurrencyConflict, OperationNotFound, StorageUnavailable
from ..domain.idempotency import HEADER, check_same, key_in_use, still_in_use
from ..domain.operation import Operation
from ..storage.ports import KeyClaim
from . import lines
from .container import Services

log = logging.getLogger(__name__)


class KeyTaken(Exception):
    """The insert of a keyed row found its key naming another operation."""

    def __init__(self, claim: KeyClaim) -> None:
        super().__init__(f"The key names operation {claim.operation_id}.")
        self.claim = claim


def taken(svc: Services, row: Operation) -> KeyClaim:
    """Why the insert of a keyed row clashed: KeyTaken with the key's row when the key names another
    operation; the key's row naming this one (its own insert, whose answer was lost) is returned."""
    claim = svc.store.find_key(row.idempotencykey)
    if claim is None:  # its operation was withdrawn or purged a moment ago: the key is free again
        raise key_in_use("", 1)
    if claim.operation_id != row.id:
        raise KeyTaken(claim)
    return claim


def replay(svc: Services, row: Operation, claim: KeyClaim, key: str) -> Operation:
    """The operation ``claim`` names, for a request with its key: IdempotencyKeyReused for a different request,
    IdempotencyKeyInUse while its first request may still be queuing it."""
    try:
        first = svc.store.get(claim.operation_id)
    except OperationNotFound:  # its first request is withdrawing it (storage refused the message)
        raise key_in_use(key, 1) from None
    check_same(first.requestfingerprint, row.requestfingerprint, key, first.id)
    if claim.accepted:
        return first
    if first.versionnumber > 1:  # a worker recorded it, so its message was queued: only the mark is missing
        _mark(svc, first)
        return first
    busy = still_in_use(key, first.createdon, svc.clock())
    if busy is not None:
        raise busy
    return _take_over(svc, first, claim, key)


def accepted(svc: Services, op: Operation) -> None:
    """Mark the key of an operation whose message was queued accepted; a request sent again with the key before
    this is written is answered 409 for a few seconds, then takes the operation over."""
    if op.idempotencykey:
        _mark(svc, op)


def _mark(svc: Services, op: Operation) -> None:
    try:
        svc.store.accept_key(op.idempotencykey)
    except (StorageUnavailable, ConcurrencyConflict) as e:
        log.warning("Operation %s was accepted, but its Idempotency-Key could not be marked so (%s).", op.id,
                    type(e).__name__)


def _take_over(svc: Services, first: Operation, claim: KeyClaim, key: str) -> Operation:
    """Queue the operation its first request left behind: its line joined again, a bare message visible when
    its first would be (and not before a worker running a first message would have recorded it), then the key
    marked accepted on the ETag read, or another request did it first."""
    lines.join(svc, [first])
    delay = (first.postponeuntil - first.createdon).total_seconds() if first.postponeuntil else 0.0
    visible_at = second_message_at(first, delay)
    svc.queue.enqueue(first.id, delay_seconds=max(0.0, (visible_at - svc.clock()).total_seconds()))
    try:
        svc.store.accept_key(first.idempotencykey, etag=claim.etag)
    except ConcurrencyConflict:
        now = svc.store.find_key(first.idempotencykey)
        if now is None or now.operation_id != first.id or not now.accepted:
            raise key_in_use(key, 1) from None
    log.info("Operation %s was left behind by the request that made it; a request with its %s queued it.",
             first.id, HEADER)
    return first
