"""Submitting an operation: in the background (row + message) or synchronously (SPEC §3.1)."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..domain.attempts import Ending, second_message_at
from ..domain.backoff import compute_backoff
from ..domain.callbacks import check_callback_url
from ..domain.error_codes import HANDLER_FAILED, TIME_LIMIT_EXCEEDED
from ..domain.errors import (
    ConcurrencyConflict,
    HandlerFailed,
    InvalidRequest,
    PayloadTooLarge,
    PerhapsWritten,
    ServiceBusy,
    StorageUnavailable,
)
from ..domain.idempotency import fingerprint, key_hash, shard_of_key
from ..domain.ids import new_operation_id
from ..domain.lines import caller_key, ticket
from ..domain.operation import Operation
from ..domain.recurrence import parse_recurrence
from ..domain.states import Event, Status
from ..domain.tracecontext import TraceParent
from ..operations.registry import OperationDefinition
from ..telemetry import metrics, spans
from . import deferred, idempotency, lines
from .container import Services
from .handlers import handler_context, run_handler, too_large

log = logging.getLogger(__name__)

MAX_TTL_SECONDS = 10 * 365 * 24 * 3600


@dataclass(frozen=True)
class Submission:
    """A request to run operation ``name`` with ``inputs``, as the HTTP layer parsed it."""

    name: str
    inputs: Any
    base_url: str
    runas: str = ""
    callback_url: str | None = field(default=None, repr=False)
    ttl_seconds: Any = None
    postpone_until: datetime | None = None
    recurrence_pattern: Any = None  # an RRULE: a recurring job (domain.recurrence)
    recurrence_start: datetime | None = None
    dependency_token: Any = None  # the caller's own line to run in, one at a time (domain.lines)
    default_line: str = ""  # the line it runs in unless the caller or the operation names one
    idempotency_key: str | None = None  # made once per caller and key (domain.idempotency)


def _check_ttl(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TTL_SECONDS:
        raise InvalidRequest(f"TtlInSeconds must be a whole number of seconds from 1 to {MAX_TTL_SECONDS}.")
    return value


def _check_size(inputs: dict[str, Any]) -> None:
    refusal = too_large(inputs, "The input parameters")
    if refusal:
        raise PayloadTooLarge(refusal)


def submit(svc: Services, sub: Submission) -> Operation:
    """Record the operation and queue it; returns the new row (Ready, or Suspended if postponed).

    Everything is checked before anything is written. The operation is accepted once its message is, or
    may be, queued (``send``); a submission refused before that never sent a message, so it never runs,
    and its row, if storage wrote it, is withdrawn.
    """
    with prepared(svc, sub) as new:
        try:
            op = insert(svc, new.row)
        except idempotency.KeyTaken as taken:  # sent before: the operation it made, never a second one
            return idempotency.replay(svc, new.row, taken.claim, sub.idempotency_key or "")
        except StorageUnavailable:
            deferred.withdraw(svc, new.row)  # it may have reached storage although its answer did not
            raise
        try:
            lines.join(svc, [op])
        except StorageUnavailable:
            withdraw(svc, op)
            raise
        sent = send(svc, op, new.delay_seconds)
        idempotency.accepted(svc, sent)
        metrics.submitted(sent)
        return sent


@dataclass(frozen=True)
class NewRow:
    """A checked submission: the row to insert, and how long its first message waits."""

    row: Operation
    delay_seconds: float = 0.0
    idempotency_key: str | None = field(default=None, repr=False)  # as the caller sent it, for its messages


@contextmanager
def prepared(svc: Services, sub: Submission, position: int = 0) -> Iterator[NewRow]:
    """``prepare`` under a new ``submit`` span (the block is its span too), its position recorded on the row."""
    with spans.submitting() as span:
        new = prepare(svc, sub, position, trace=span.position)
        spans.submitted(span, new.row)
        yield new


def prepare(svc: Services, sub: Submission, position: int = 0, trace: TraceParent | None = None) -> NewRow:
    """Check everything a submission says and make its row; writes nothing (InvalidRequest and kin).
    ``position`` orders the tickets of rows made in one request that join the same line; ``trace``: where its
    submit sits in its trace (``telemetry.spans.submitting``), recorded on the row."""
    definition = svc.registry.submittable(sub.name)
    inputs = definition.validate(sub.inputs)
    _check_size(inputs)
    now = svc.clock()
    row = _row(svc, definition, inputs, sub, now, position)
    new = _scheduled(row.with_changes(traceparent=trace.header) if trace else row, sub, now)
    return replace(new, idempotency_key=sub.idempotency_key)


def _row(svc: Services, definition: OperationDefinition, inputs: dict[str, Any], sub: Submission, now: datetime,
         position: int) -> Operation:
    """The new row, Ready, in its line if it has one."""
    callback = check_callback_url(sub.callback_url, policy=svc.settings.outbound) \
        if sub.callback_url is not None else None
    ttl = _check_ttl(sub.ttl_seconds, svc.settings.default_ttl_seconds)
    line = caller_key(sub.dependency_token, sub.runas) if sub.dependency_token is not None else \
        definition.line_of(inputs) or sub.default_line
    keyed = key_hash(sub.runas, sub.idempotency_key) if sub.idempotency_key is not None else ""
    operation_id = new_operation_id(now, shard_of_key(keyed) if keyed else None)
    request = {"name": definition.name, "inputs": inputs, "callback": callback, "ttl": ttl, "line": line,
               "postponeuntil": sub.postpone_until, "recurrence": [sub.recurrence_pattern, sub.recurrence_start]}
    return Operation(id=operation_id, name=definition.name, displayname=definition.display_name,
                     status=Status.WAITING_FOR_RESOURCES, inputs=inputs, createdon=now, modifiedon=now,
                     ttlinseconds=ttl, runas=sub.runas, callbackurl=callback, baseurl=sub.base_url,
                     concurrencykey=line, lineticket=ticket(operation_id, now, position) if line else "",
                     idempotencykey=keyed, requestfingerprint=fingerprint(request) if keyed else "")


def _scheduled(op: Operation, sub: Submission, now: datetime) -> NewRow:
    """The row as it starts: at once, or postponed (to a time, or to a recurring job's first occurrence)."""
    if sub.recurrence_pattern is not None:
        op, first = _recurring(op, sub, now)
        return NewRow(op, (first - now).total_seconds()) if op.postponeuntil else NewRow(op)
    if sub.postpone_until is not None and sub.postpone_until > now:
        return NewRow(_postponed(op, sub.postpone_until, now), (sub.postpone_until - now).total_seconds())
    return NewRow(op)


def _postponed(op: Operation, until: datetime, now: datetime) -> Operation:
    return op.apply(Event.POSTPONE, now, postponeuntil=until, lineticket="")


def _recurring(op: Operation, sub: Submission, now: datetime) -> tuple[Operation, datetime]:
    """The new row of a recurring job, postponed to its first occurrence (its start) if that is still to come."""
    if sub.postpone_until is not None:
        raise InvalidRequest("A recurring job starts at its RecurrenceStartTime: leave PostponeUntil out.")
    recurrence = parse_recurrence(sub.recurrence_pattern, sub.recurrence_start, now)
    first = recurrence.first()
    op = op.with_changes(recurrencepattern=recurrence.pattern, recurrencestarttime=recurrence.start)
    return (_postponed(op, first, now) if first > now else op), first


# How long a submission keeps trying to queue its first message, and the pause after its first try.
SEND_SECONDS = 10.0
SEND_RETRY_BASE_SECONDS = 0.5


def send(svc: Services, op: Operation, delay: float, *, seconds: float | None = None) -> Operation:
    """Queue the inserted row's first message (visible after ``delay``): the operation is accepted once a
    message is queued, or may have been. A row whose every try was refused is withdrawn (StorageUnavailable).

    Each try is a single request, so that a try whose answer was lost (PerhapsWritten) is known: its message
    may be on the queue, and a worker may run it, so the operation is accepted from then on. The tries after
    it send a bare message that becomes visible only once a worker running the first would have recorded it
    (``CANCEL_UNSURE_WINDOW``), so the two never both run it; if ``seconds`` (SEND_SECONDS) pass first,
    that message is sent once storage answers (``deferred.send``).
    """
    perhaps, deadline = False, time.monotonic() + (SEND_SECONDS if seconds is None else seconds)
    for attempt in itertools.count(1):
        try:
            if perhaps:
                svc.queue.enqueue(op.id, delay_seconds=(second_message_at(op, delay) - svc.clock()).total_seconds(),
                                  once=True)
            else:
                svc.queue.enqueue(op.id, delay_seconds=delay, row=op, once=True)
            break
        except PerhapsWritten:
            perhaps = True
        except StorageUnavailable:
            pass
        pause = compute_backoff(attempt, base_seconds=SEND_RETRY_BASE_SECONDS, max_seconds=4.0)
        if time.monotonic() + pause > deadline:
            if not perhaps:
                withdraw(svc, op)
                raise StorageUnavailable(f"Queue storage refused the message of operation {op.id}; it was not "
                                         "accepted. Try again later.")
            deferred.send(svc, op, second_message_at(op, delay))
            break
        time.sleep(pause)
    log.info("Accepted operation %s (%s).", op.id, op.name)
    return op


INSERT_TRIES = 2


def insert(svc: Services, op: Operation) -> Operation:
    """Insert the new row. A conflict on an id made a moment ago can only be this very insert, retried after its
    first answer was lost: the row is there, as written; or, for a row with an idempotency key, the key being
    taken (KeyTaken). The SDK does not retry an insert whose answer was lost (a POST: a connection the server
    closed as the request went out, say), so that try is made again here."""
    for tries in itertools.count(1):
        try:
            return svc.store.create(op)
        except ConcurrencyConflict:
            if op.idempotencykey:
                idempotency.taken(svc, op)
            return svc.store.get(op.id)
        except PerhapsWritten:
            if tries >= INSERT_TRIES:
                raise
            log.info("Operation %s: the answer to its insert was lost; inserting it again.", op.id)
    raise AssertionError("unreachable")


# A run inside a request ends well before Azure's front end drops the request (230 s); it holds a
# thread of the app's HTTP pool (services.pools.HTTP_THREADS, 16), so at most half of them at once.
SYNC_RUN_LIMIT_SECONDS = 120.0
MAX_SYNC_RUNS = 8
_sync_runs = threading.BoundedSemaphore(MAX_SYNC_RUNS)


def withdraw(svc: Services, op: Operation) -> None:
    """Delete the row of a submission that was not accepted (no message was sent for it); if storage
    refuses that too (it just failed), once it answers."""
    try:
        svc.store.delete(op)
    except StorageUnavailable:
        deferred.withdraw(svc, op)


def run_now(svc: Services, name: str, inputs: Any, runas: str = "") -> dict[str, Any]:
    """Run the handler inside the request (no ``Prefer: respond-async``); no row is written."""
    definition = svc.registry.submittable(name)
    validated = definition.validate(inputs)
    if not _sync_runs.acquire(blocking=False):
        raise ServiceBusy(f"This instance is already running {MAX_SYNC_RUNS} operations inside requests. Try "
                          "again shortly, or submit with 'Prefer: respond-async' to run it in the background.")
    try:
        limit = min(definition.time_limit_seconds or SYNC_RUN_LIMIT_SECONDS, SYNC_RUN_LIMIT_SECONDS)
        outcome = run_handler(definition, validated, handler_context(svc, runas=runas), time_limit=limit)
    finally:
        _sync_runs.release()
    if outcome.errorcode == TIME_LIMIT_EXCEEDED:
        raise HandlerFailed(TIME_LIMIT_EXCEEDED, f"'{definition.name}' did not finish within {limit:g} s, the limit "
                            "for running inside a request. Submit it with 'Prefer: respond-async' to run it in the "
                            "background, then poll the Location it answers with.")
    if outcome.ending is not Ending.SUCCEEDED or outcome.outputs is None:
        raise HandlerFailed(outcome.errorcode or HANDLER_FAILED, outcome.errormessage or "The operation stopped.")
    return outcome.outputs
