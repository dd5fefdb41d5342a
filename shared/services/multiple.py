"""Many submissions in one request (ExecuteMultiple), with Dataverse's semantics.

Every request is checked first, in order, and processing stops at the first fault unless the caller
asked to continue on error; the requests before a fault stay queued. The rows are then inserted in
entity group transactions, one per partition and hundred rows (``OperationStore.create_many``), and
their messages sent a wave at a time, in order, the messages of a wave at once. A storage fault is the
fault of the requests it hit: their rows are withdrawn, as a refused single submission's are.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..domain.errors import BackgroundOperationError, ConcurrencyConflict, StorageUnavailable
from ..domain.operation import Operation
from ..storage.clients import POOL_SIZE
from ..telemetry import metrics
from . import deferred, idempotency, submission
from .container import Services
from .submission import NewRow, Submission, prepared, send, withdraw

log = logging.getLogger(__name__)

MAX_REQUESTS = 1000  # Dataverse's limit for one ExecuteMultiple
WAVE = POOL_SIZE  # messages sent at once (one connection each); a fault stops the waves after its own


@dataclass(frozen=True)
class Result:
    """What became of the request at ``index``: its queued row, or its fault."""

    index: int
    row: Operation | None = None
    fault: BackgroundOperationError | None = None


def submit_many(svc: Services, requests: Sequence[Submission | BackgroundOperationError], *,
                continue_on_error: bool) -> list[Result]:
    """Queue the requests; returns a result for each one processed, in order. A request given as an
    error (the API could not read it) is that request's fault. Raises StorageUnavailable, after
    withdrawing what it wrote, when storage failed and nothing was queued (the caller retries it all)."""
    checked, faults = _checked(svc, requests, continue_on_error)
    replayed: dict[int, Operation] = {}
    inserted = _inserted(svc, checked, faults, continue_on_error, replayed)
    queued = _sent(svc, inserted, faults, continue_on_error)
    keyed = [row for _, row in queued if row.idempotencykey]
    list(svc.pools.sends.map(lambda row: idempotency.accepted(svc, row), keyed))  # each key marked, at once
    for _, row in queued:
        metrics.submitted(row)
    results = sorted([Result(i, row=row) for i, row in [*queued, *replayed.items()]]
                     + [Result(i, fault=f) for i, f in faults.items()], key=lambda r: r.index)
    if not queued and not replayed and any(isinstance(f, StorageUnavailable) for f in faults.values()):
        raise next(f for f in faults.values() if isinstance(f, StorageUnavailable))
    return results


def _checked(svc: Services, requests: Sequence[Submission | BackgroundOperationError], continue_on_error: bool
             ) -> tuple[list[tuple[int, NewRow]], dict[int, BackgroundOperationError]]:
    """The rows of the requests up to the first fault (all of them, continuing on error), and the faults."""
    checked: list[tuple[int, NewRow]] = []
    faults: dict[int, BackgroundOperationError] = {}
    for index, request in enumerate(requests):
        try:
            if isinstance(request, BackgroundOperationError):
                raise request
            with prepared(svc, request, position=index) as new:
                checked.append((index, new))
        except BackgroundOperationError as e:
            faults[index] = e
            if not continue_on_error:
                break
    return checked, faults


def _inserted(svc: Services, checked: list[tuple[int, NewRow]], faults: dict[int, BackgroundOperationError],
              continue_on_error: bool, replayed: dict[int, Operation]) -> list[tuple[int, NewRow]]:
    """Insert the rows in batches; a batch storage failed is its requests' fault (and withdrawn, as its
    answer may have been lost). Without continuing on error, rows after the first fault are withdrawn. The rows
    of a batch that clashed (on an idempotency key sent before) are inserted again one at a time (``_one_by_one``)."""
    answers = svc.store.create_many([new.row for _, new in checked]) if checked else []
    inserted: list[tuple[int, NewRow]] = []
    for (index, new), given in zip(checked, answers, strict=True):
        answer = _one_by_one(svc, new, index, replayed) if isinstance(given, ConcurrencyConflict) else given
        if answer is None:
            continue
        if isinstance(answer, Operation):
            inserted.append((index, NewRow(answer, new.delay_seconds)))
            continue
        faults[index] = answer
        if isinstance(answer, StorageUnavailable):
            deferred.withdraw(svc, new.row)
    inserted = _in_line(svc, inserted, faults)
    if continue_on_error or not faults:
        return inserted
    first = min(faults)
    for index, new in inserted:
        if index > first:
            withdraw(svc, new.row)
    return [(i, new) for i, new in inserted if i < first]


def _one_by_one(svc: Services, new: NewRow, index: int, replayed: dict[int, Operation]
                ) -> Operation | BackgroundOperationError | None:
    """The row of a request whose batch clashed (on its key, or on another's), inserted alone: its row, or,
    when its key was sent before, None with the operation it made in ``replayed`` (``services.idempotency``), or
    the request's fault."""
    try:
        return submission.insert(svc, new.row)
    except idempotency.KeyTaken as taken:
        try:
            replayed[index] = idempotency.replay(svc, new.row, taken.claim, new.idempotency_key or "")
        except BackgroundOperationError as e:
            return e
        return None
    except BackgroundOperationError as e:
        return e


def _in_line(svc: Services, inserted: list[tuple[int, NewRow]], faults: dict[int, BackgroundOperationError]
             ) -> list[tuple[int, NewRow]]:
    """Put the tickets of the rows that run one at a time in their lines, a line at a time (in batches);
    the rows of a line storage failed to take are withdrawn and their requests faulted.

    Only the first of a line's new rows gets its message at once: the others could only find someone
    ahead and wait, so their first messages are the recheck (``services.lines``), and each is woken
    by the one ahead of it when its turn comes.
    """
    by_line: dict[str, list[tuple[int, NewRow]]] = {}
    for index, new in inserted:
        if new.row.lineticket:
            by_line.setdefault(new.row.concurrencykey, []).append((index, new))
    later: dict[int, NewRow] = {}
    for key, waiting in by_line.items():
        try:
            svc.lines.join(key, [new.row.lineticket for _, new in waiting])
        except StorageUnavailable as e:
            for index, new in waiting:
                faults[index] = e
                withdraw(svc, new.row)
            continue
        recheck = svc.settings.line_recheck_seconds
        later |= {index: NewRow(new.row, max(new.delay_seconds, recheck)) for index, new in waiting[1:]}
    return [(index, later.get(index, new)) for index, new in inserted if index not in faults]


def _sent(svc: Services, inserted: list[tuple[int, NewRow]], faults: dict[int, BackgroundOperationError],
          continue_on_error: bool) -> list[tuple[int, Operation]]:
    """Send the messages a wave at a time; a row whose message failed is withdrawn and its request faulted.
    Without continuing on error, the waves after a fault are not sent and their rows are withdrawn."""
    queued: list[tuple[int, Operation]] = []
    deadline = time.monotonic() + submission.SEND_SECONDS  # for them all: a wave after a long outage tries once
    for start in range(0, len(inserted), WAVE):
        wave = inserted[start:start + WAVE]
        if faults and not continue_on_error and min(faults) < wave[0][0]:
            for _, new in wave:
                withdraw(svc, new.row)
            continue
        seconds = [max(0.0, deadline - time.monotonic())] * len(wave)
        sent = svc.pools.sends.map(lambda item, left: _send_one(svc, item[1], left), wave, seconds)
        for (index, new), error in zip(wave, sent, strict=True):
            if error is None:
                queued.append((index, new.row))
            else:
                faults[index] = error
    log.info("Accepted %d operations in one request.", len(queued))
    return queued


def _send_one(svc: Services, new: NewRow, seconds: float) -> StorageUnavailable | None:
    try:
        send(svc, new.row, new.delay_seconds, seconds=seconds)
    except StorageUnavailable as e:
        return e
    return None
