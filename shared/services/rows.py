"""Read-modify-write of one row under its ETag, retried when another writer got there first."""

from __future__ import annotations

from collections.abc import Callable

from ..domain.errors import ConcurrencyConflict
from ..domain.operation import Operation
from ..storage.ports import OperationStore

MAX_ROUNDS = 8


def update_row(store: OperationStore, op: Operation, change: Callable[[Operation], Operation | None]) -> Operation:
    """Apply ``change`` to ``op`` and write it if the row is unchanged; on a conflict read it again.

    ``change`` returns the new row, or None to write nothing; it may raise
    (TransitionRefused, say), which ends the attempt. Returns the row as stored.
    """
    for _ in range(MAX_ROUNDS):
        new = change(op)
        if new is None:
            return op
        try:
            return store.replace(new)
        except ConcurrencyConflict:
            op = store.get(op.id)
    raise ConcurrencyConflict(f"Operation {op.id} kept changing; gave up after {MAX_ROUNDS} tries.")
