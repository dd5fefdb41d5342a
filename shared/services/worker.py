"""Running operations from the work queue, and failing those the host gave up on (SPEC §4)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from ..domain.attempts import Outcome, RetryPolicy, end_attempt, failed, lost_attempt, poisoned, start_attempt
from ..domain.dispatch import Action, callback_owed, decide
from ..domain.error_codes import NOT_REGISTERED
from ..domain.errors import (
    ConcurrencyConflict,
    InvalidRequest,
    OperationNotFound,
    TransitionRefused,
    UnknownOperation,
)
from ..domain.ids import parse_operation_id
from ..domain.operation import Operation
from ..domain.states import Event, Status
from ..operations.context import OperationContext
from .callbacks import deliver_callback, deliver_owed_callback
from .container import Services
from .events import owing, publish_owed
from .handlers import run_handler
from .rows import update_row

log = logging.getLogger(__name__)
MAX_STEPS = 8  # decisions one message may lead to (resume, then start, say)
# A handler may ask for cancel/pause in a tight loop; the row is re-read at most this
# often (each read is a billed transaction), and a progress write refreshes it too.
STATUS_REFRESH_SECONDS = 2.0
PROGRESS_WRITE_SECONDS = 2.0


@dataclass(frozen=True)
class QueueDelivery:
    """A received trigger message: what the worker needs of ``func.QueueMessage``."""

    id: str
    pop_receipt: str
    dequeue_count: int
    body: str


def _read(svc: Services, body: str) -> Operation | None:
    try:
        return svc.store.get(parse_operation_id(body))
    except InvalidRequest:
        log.warning("Dropped a queue message that is not an operation id.")
    except OperationNotFound as e:
        log.info("Dropped the message of operation %s: it no longer exists.", e.operation_id)
    return None


def process_message(svc: Services, msg: QueueDelivery) -> None:
    """Do what the row says this message should lead to; at most one attempt runs."""
    op = _read(svc, msg.body)
    for _ in range(MAX_STEPS):
        if op is None:
            return
        current, decision = op, decide(op, msg.id, svc.clock())
        try:
            op = _step(svc, current, msg, decision.action, decision.delay_seconds)
        except ConcurrencyConflict:  # someone else wrote the row: decide again on what is there now
            op = _read(svc, current.id)
        except TransitionRefused:
            return


def _step(svc: Services, op: Operation, msg: QueueDelivery, action: Action, delay: float) -> Operation | None:
    """One step; returns the row to decide on again, or None when this message is done."""
    now = svc.clock()
    if action is Action.DROP:
        log.info("Dropped a message of operation %s (%s).", op.id, op.status.name)
    elif action is Action.PUBLISH_EVENTS:
        return publish_owed(svc, op)
    elif action is Action.DELIVER_CALLBACK:
        deliver_owed_callback(svc, op, now)
    elif action is Action.DEFER:
        svc.queue.enqueue(op.id, delay_seconds=delay)
    elif action is Action.RESUME:
        return svc.store.replace(op.apply(Event.RESUME, now))
    elif action is Action.RECOVER:
        recovered = lost_attempt(op, msg.dequeue_count - 1, now)
        log.warning("Operation %s: %s", op.id, recovered.errormessage)
        return svc.store.replace(recovered)
    elif action is Action.START:
        _run_attempt(svc, svc.store.replace(start_attempt(op, msg.id, msg.dequeue_count, now)), msg)
    return None


class _RowWatcher:
    """The running attempt's view of its row: fresh enough status, throttled progress writes."""

    def __init__(self, svc: Services, op: Operation) -> None:
        self._svc = svc
        self.op = op
        self._read_at = self._wrote_at = time.monotonic()

    def status(self) -> Status:
        if time.monotonic() - self._read_at >= STATUS_REFRESH_SECONDS:
            self._refresh()
        return self.op.status

    def progress(self, percent: int, message: str) -> None:
        if time.monotonic() - self._wrote_at < PROGRESS_WRITE_SECONDS:
            return
        self._wrote_at = time.monotonic()
        try:
            self.op = update_row(self._svc.store, self.op, lambda row: row.with_changes(
                progresspercent=percent, progressmessage=message, modifiedon=self._svc.clock()))
            self._read_at = time.monotonic()
        except Exception:  # progress is best effort; the attempt goes on
            log.warning("Could not record progress of operation %s.", self.op.id, exc_info=True)

    def _refresh(self) -> None:
        try:
            self.op = self._svc.store.get(self.op.id)
        except Exception:
            log.warning("Could not re-read operation %s.", self.op.id, exc_info=True)
        self._read_at = time.monotonic()


def _run_handler(svc: Services, op: Operation, attempt: int, watcher: _RowWatcher) -> Outcome:
    try:
        definition = svc.registry.get(op.name)
    except UnknownOperation as e:
        return failed(NOT_REGISTERED, str(e), retryable=False)
    context = OperationContext(operation_id=op.id, attempt=attempt, runas=op.runas, status=watcher.status,
                               progress=watcher.progress, table_service=svc.table_service)
    return run_handler(definition, op.inputs, context)


def _run_attempt(svc: Services, op: Operation, msg: QueueDelivery) -> None:
    watcher = _RowWatcher(svc, op)
    outcome = _run_handler(svc, op, msg.dequeue_count, watcher)
    policy = RetryPolicy(svc.settings.max_attempts, svc.settings.retry_base_seconds)
    now, plans = svc.clock(), []

    def finish(row: Operation) -> Operation:  # re-planned on the row as it is, if another writer got there first
        plans.append(end_attempt(row, outcome, msg.dequeue_count, policy, now))
        return owing(svc, plans[-1].row)

    try:
        done = update_row(svc.store, watcher.op, finish)
    except TransitionRefused:
        log.warning("Operation %s was finished elsewhere while attempt %d ran.", op.id, msg.dequeue_count)
        return
    log.info("Operation %s attempt %d: %s -> %s.", op.id, msg.dequeue_count, outcome.ending.value, done.status.name)
    if plans[-1].retry_after_seconds is not None:
        # The host deletes this message when we return; with the pop receipt changed
        # by this update it gets PopReceiptMismatch, which it ignores, so the message
        # comes back after the backoff with dequeue_count + 1.
        svc.queue.set_visibility(msg.id, msg.pop_receipt, plans[-1].retry_after_seconds)
    elif done.is_terminal:
        _after_finish(svc, done)


def _after_finish(svc: Services, done: Operation) -> None:
    """What the worker that finished an operation owes: its event to subscribers, its callback."""
    done = publish_owed(svc, done)
    if done.callbackurl:
        deliver_callback(svc, done)


def fail_poisoned(svc: Services, body: str) -> None:
    """The host moved an operation's message to the poison queue: mark it Failed and call back."""
    op = _read(svc, body)
    if op is None:
        return
    now = svc.clock()
    if op.is_terminal:
        op = publish_owed(svc, op)
        if callback_owed(op, now):
            deliver_owed_callback(svc, op, now)
        return
    try:
        done = update_row(svc.store, op, lambda row: owing(svc, poisoned(row, svc.settings.max_attempts, now)))
    except TransitionRefused:
        return  # finished meanwhile by whoever holds it; its callback is theirs to send
    log.warning("Operation %s failed: its message reached the poison queue.", op.id)
    _after_finish(svc, done)
