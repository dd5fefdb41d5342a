"""Running operations from the work queue, and failing those the host gave up on (SPEC §4)."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..domain.attempts import (
    Outcome,
    RetryPolicy,
    end_attempt,
    failed,
    lost_attempt,
    may_run_unrecorded,
    may_start_from_message,
    poisoned,
    recording_due,
    start_attempt,
    started,
    stop_unstarted,
    superseded,
)
from ..domain.backoff import compute_backoff
from ..domain.dispatch import Action, Arrival, Decision, Line, Rules, decide
from ..domain.error_codes import NOT_REGISTERED, UNEXPECTED
from ..domain.errors import (
    AttemptSuperseded,
    ConcurrencyConflict,
    InvalidRequest,
    OperationNotFound,
    StorageUnavailable,
    UnknownOperation,
)
from ..domain.operation import Operation
from ..domain.states import Event, Status, TransitionRefused
from ..storage.work_messages import decode
from ..telemetry import logs, metrics, spans
from . import lines
from .callbacks import deliver_callback, deliver_owed_callback
from .container import Services
from .events import publish_owed
from .handlers import handler_context, run_handler
from .rows import update_row, write

log = logging.getLogger(__name__)
MAX_STEPS = 8  # decisions one message may lead to (resume, then start, say)
# A handler may ask for cancel/pause in a tight loop; the row is re-read at most this
# often (each read is a billed transaction), and a progress write refreshes it too.
STATUS_REFRESH_SECONDS = 2.0
PROGRESS_WRITE_SECONDS = 2.0
# How long a worker keeps trying to write how an attempt ended while storage fails, and its first pause.
END_WRITE_SECONDS = 120.0
END_WRITE_RETRY_BASE_SECONDS = 0.5


@dataclass(frozen=True)
class QueueDelivery:
    """A received trigger message: what the worker needs of ``func.QueueMessage``."""

    id: str
    pop_receipt: str
    dequeue_count: int
    body: str
    attempts_before: int = 0  # attempts made before this message was sent (a retry sent as a new message)
    wake: bool = False  # sent because the operation's turn came in its line (services.lines)
    invocation: str = ""  # the host's traceparent for this invocation (a new trace per message): the attempt's
    # span links to it

    @property
    def attempt(self) -> int:
        """Which attempt this delivery is: the attempts before the message, plus its dequeue count."""
        return self.attempts_before + self.dequeue_count


def _read(svc: Services, operation_id: str) -> Operation | None:
    try:
        return svc.store.get(operation_id)
    except OperationNotFound as e:
        log.info("Dropped the message of operation %s: it no longer exists.", e.operation_id)
    return None


def _first_view(svc: Services, msg: QueueDelivery) -> tuple[Operation | None, bool, QueueDelivery]:
    """The row to decide on first, True when its attempt may run unrecorded (a young row from the message), and
    the delivery with the attempts its message says came before it. An older row from a first message is decided
    on too, unread: its start is written on its ETag, and a conflict has it read (``may_start_from_message``)."""
    try:
        work = decode(msg.body)
    except InvalidRequest:
        log.warning("Dropped a queue message that is not an operation id.")
        return None, False, msg
    msg = dataclasses.replace(msg, attempts_before=work.attempts, wake=work.wake)
    if work.row is not None and may_start_from_message(work.row, msg.attempt):
        return work.row, may_run_unrecorded(work.row, msg.attempt, svc.clock()), msg
    return _read(svc, work.operation_id), False, msg


def process_message(svc: Services, msg: QueueDelivery) -> None:
    """Do what the row says this message should lead to; at most one attempt runs."""
    op, carried, msg = _first_view(svc, msg)
    _carry_out(svc, op, msg, Arrival(msg.id, msg.attempt, wake=msg.wake), carried=carried)


def fail_poisoned(svc: Services, body: str) -> None:
    """The host moved an operation's message to the poison queue: mark it Failed and call back (or, if it has
    ended, deliver what it still owes)."""
    try:
        operation_id = decode(body).operation_id
    except InvalidRequest:
        log.warning("Dropped a poison message that is not an operation id.")
        return
    msg, op = QueueDelivery(id="", pop_receipt="", dequeue_count=0, body=body), _read(svc, operation_id)
    if op is None:
        return
    with spans.poisoned(op), logs.operation(op.id, op.name):
        _carry_out(svc, op, msg, Arrival("", poisoned=True), carried=False)


def _carry_out(svc: Services, op: Operation | None, msg: QueueDelivery, arrival: Arrival, *, carried: bool) -> None:
    """Carry out ``decide``'s decisions on the row each step leaves, until one ends the message's work."""
    for _ in range(MAX_STEPS):
        if op is None:
            return
        current = op
        try:
            op = _step(svc, current, msg, _decision(svc, current, arrival), carried)
        except ConcurrencyConflict:  # someone else wrote the row: decide again on what is there now
            op = _read(svc, current.id)
        except TransitionRefused:
            return
        carried = False


def _decision(svc: Services, op: Operation, arrival: Arrival) -> Decision:
    """``decide``, given the operation's line when it asks to know whose turn it is."""
    settings, now = svc.settings, svc.clock()
    rules = Rules(max_attempts=settings.max_attempts, claim_timeout=settings.callback_delivery.claim_timeout,
                  line_recheck_seconds=settings.line_recheck_seconds)
    decision = decide(op, arrival, now, rules)
    if decision.action is Action.LOOK_AT_LINE:
        ahead = lines.ahead_of(svc, op)
        decision = decide(op, arrival, now, rules, Line(ahead.id if ahead is not None else ""))
    return decision


def _step(svc: Services, op: Operation, msg: QueueDelivery, decision: Decision, carried: bool) -> Operation | None:
    """Carry out one decision; returns the row to decide on again, or None when this message is done."""
    action, now = decision.action, svc.clock()
    if action in (Action.DROP, Action.DELIVER_CALLBACK, Action.DEFER, Action.WAIT_IN_LINE):
        _leave_for_now(svc, op, decision, now)
    elif action is Action.PUBLISH_EVENTS:
        return publish_owed(svc, op)
    elif action in (Action.RESUME, Action.TAKE_TICKET):  # a ticket is taken by writing the row (rows.write)
        return write(svc, op.apply(Event.RESUME, now) if action is Action.RESUME else op)
    elif action is Action.RECOVER:
        recovered = lost_attempt(op, msg.attempt - 1, now)
        log.warning("Operation %s: %s", op.id, recovered.errormessage)
        return write(svc, recovered)
    elif action in (Action.STOP_UNSTARTED, Action.FAIL):
        if action is Action.FAIL:
            log.warning("Operation %s failed: its message was tried as often as it may be.", op.id)
        ended = stop_unstarted(op, now) if action is Action.STOP_UNSTARTED else poisoned(
            op, svc.settings.max_attempts, now)
        written = write(svc, ended)
        if action is Action.FAIL:
            metrics.poisoned(written)
        _after_run(svc, written)
    elif action is Action.START:
        with spans.attempting(op, msg.attempt, msg.invocation, msg.id) as span, \
                logs.operation(op.id, op.name, msg.attempt):
            if not carried:  # recorded before it runs, so that a cancel finds it running
                op = write(svc, start_attempt(op, msg.id, msg.attempt, now))
            metrics.started(op, msg.attempt, now)
            return _run_attempt(svc, _Attempt(svc, op, msg, recorded=not carried), span)
    return None


def _leave_for_now(svc: Services, op: Operation, decision: Decision, now: datetime) -> None:
    """The decisions that leave the row as it is: drop the message, deliver an owed callback, or send a
    message for later; a finished operation in a line hands the line on (its worker may have died first)."""
    if decision.action is Action.DELIVER_CALLBACK:
        deliver_owed_callback(svc, op, now)
    elif decision.action is Action.DROP:
        log.info("Dropped a message of operation %s (%s).", op.id, op.status.name)
    else:
        svc.queue.enqueue(op.id, delay_seconds=decision.delay_seconds)
        log.info("Operation %s: looked at again in %.0f s (%s).", op.id, decision.delay_seconds,
                 "its turn in its line" if decision.action is Action.WAIT_IN_LINE else "its time")
    if op.is_terminal and op.concurrencykey:
        lines.hand_on(svc, op.concurrencykey)


class _Attempt:
    """A running attempt's view of its row.

    It records the start (In Progress) when it is due (``recording_due``), when the handler
    first asks about a cancel or a pause, or reports progress, whichever comes first; an
    attempt that ends sooner is recorded by the write that ends it. After that, the status
    the handler sees is re-read at most every ``STATUS_REFRESH_SECONDS``, and progress is
    written at most every ``PROGRESS_WRITE_SECONDS``. The timer thread and the handler's
    thread take turns under one lock.
    """

    def __init__(self, svc: Services, op: Operation, msg: QueueDelivery, *, recorded: bool) -> None:
        self._svc, self._msg = svc, msg
        self.row = op
        self.started_at = svc.clock()
        self._recorded, self._ended = recorded, False
        self._lock = threading.Lock()
        self._read_at = self._wrote_at = time.monotonic()
        self._timer: threading.Timer | None = None
        if not recorded:
            self._timer = threading.Timer(recording_due(op, self.started_at), self._record)
            self._timer.daemon = True
            self._timer.start()

    @property
    def message(self) -> QueueDelivery:
        return self._msg

    @property
    def attempt(self) -> int:
        return self._msg.attempt

    def status(self) -> Status:
        with self._lock:
            if self._ended:  # a handler still running after its attempt ended (its time was up) reads nothing
                return self.row.status
            if not self._recorded:
                self._record_locked()
            elif time.monotonic() - self._read_at >= STATUS_REFRESH_SECONDS:
                self._refresh()
            return self.row.status

    def progress(self, percent: int, message: str) -> None:
        with self._lock:
            if self._ended or time.monotonic() - self._wrote_at < PROGRESS_WRITE_SECONDS:
                return
            self._wrote_at = time.monotonic()
            self._write(lambda row: self._started(row).with_changes(
                progresspercent=percent, progressmessage=message, modifiedon=self._svc.clock()), "progress")

    def end(self, outcome: Outcome) -> tuple[Operation, float | None]:
        """Write how the attempt ended; returns the row and the retry delay (TransitionRefused if it cannot)."""
        with self._lock:
            self._ended = True
            if self._timer is not None:
                self._timer.cancel()
        settings, now, plans = self._svc.settings, self._svc.clock(), []
        policy = RetryPolicy(settings.max_attempts, settings.retry_base_seconds)

        def plan(row: Operation) -> Operation:  # re-planned on the row as it is, if another writer got there first
            plans.append(end_attempt(self._started(row), outcome, self.attempt, policy, now))
            return plans[-1].row

        return update_row(self._svc, self.row, plan), plans[-1].retry_after_seconds

    def _started(self, row: Operation) -> Operation:
        if superseded(row, self._msg.id, self.attempt):
            raise AttemptSuperseded(f"Operation {row.id} moved on past attempt {self.attempt}.")
        return started(row, self._msg.id, self.attempt, self.started_at)

    def _record(self) -> None:
        with self._lock:
            if not self._recorded and not self._ended:
                self._record_locked()

    def _record_locked(self) -> None:
        # Nothing to write if it is no longer Ready: a cancel asked while unsure made it Canceling.
        self._write(lambda row: self._started(row) if row.status is Status.WAITING_FOR_RESOURCES else None,
                    "its start")

    def _write(self, change: Callable[[Operation], Operation | None], what: str) -> None:
        try:
            self.row = update_row(self._svc, self.row, change)
        except Exception:  # best effort: the write that ends the attempt records it anyway
            log.warning("Could not record %s for operation %s.", what, self.row.id, exc_info=True)
            return
        self._recorded = True
        self._read_at = self._wrote_at = time.monotonic()

    def _refresh(self) -> None:
        try:
            self.row = self._svc.store.get(self.row.id)
        except Exception:
            log.warning("Could not re-read operation %s.", self.row.id, exc_info=True)
        self._read_at = time.monotonic()


def _run_handler(svc: Services, attempt: _Attempt) -> Outcome:
    op = attempt.row
    if op.damaged:  # its inputs cannot be read: no attempt can do better
        return failed(UNEXPECTED, op.damaged, retryable=False)
    try:
        definition = svc.registry.get(op.name)
    except UnknownOperation as e:
        return failed(NOT_REGISTERED, str(e), retryable=False)
    context = handler_context(svc, operation_id=op.id, attempt=attempt.attempt, runas=op.runas,
                              status=attempt.status, progress=attempt.progress)
    limit = definition.time_limit_seconds or svc.settings.attempt_time_limit_seconds
    return run_handler(definition, op.inputs, context, time_limit=limit)


def _run_attempt(svc: Services, attempt: _Attempt, span: spans.Started) -> Operation | None:
    """Run the handler and write how it ended; returns a row to decide on again, if the outcome was refused."""
    op, msg = attempt.row, attempt.message
    log.info("Operation %s attempt %d started.", op.id, attempt.attempt)
    began = time.monotonic()
    outcome = _run_handler(svc, attempt)
    log.info("Operation %s attempt %d ran: %s.", op.id, attempt.attempt, outcome.ending.value)
    spans.ran(span, outcome)
    metrics.ran(op, time.monotonic() - began, outcome.ending.value, svc.settings.queue_name)
    try:
        done, retry_after = _ended(attempt, outcome)
    except AttemptSuperseded:  # a later attempt owns the row now: deciding again would take it for this one
        log.warning("Operation %s moved on past attempt %d; its outcome was dropped.", op.id, attempt.attempt)
        return None
    except TransitionRefused:
        log.warning("Operation %s changed while attempt %d ran; its outcome was dropped.", op.id, attempt.attempt)
        now = _read(svc, op.id)  # a postponed row needs this message to defer; a finished one, nothing
        return None if now is None or now.status is Status.WAITING_FOR_RESOURCES else now
    log.info("Operation %s attempt %d: %s -> %s.", op.id, attempt.attempt, outcome.ending.value, done.status.name)
    if retry_after is not None:
        metrics.retried(done)
        _retry_later(svc, done, msg, retry_after)
    else:
        _after_run(svc, done)
    return None


def _ended(attempt: _Attempt, outcome: Outcome) -> tuple[Operation, float | None]:
    """``attempt.end(outcome)``, tried again while storage fails, for up to END_WRITE_SECONDS: the work is done,
    and a message that came back because its outcome could not be written would do it again. The host keeps
    the message meanwhile; past that time the failure is raised, and the message comes back."""
    deadline = time.monotonic() + END_WRITE_SECONDS
    for tries in itertools.count(1):
        try:
            return attempt.end(outcome)
        except StorageUnavailable:
            pause = compute_backoff(tries, base_seconds=END_WRITE_RETRY_BASE_SECONDS, max_seconds=8.0)
            if time.monotonic() + pause > deadline:
                raise
            log.warning("Operation %s attempt %d: storage failed writing how it ended; trying again.",
                        attempt.row.id, attempt.attempt)
            time.sleep(pause)
    raise AssertionError("unreachable")


def _retry_later(svc: Services, op: Operation, msg: QueueDelivery, delay: float) -> None:
    """Have the next attempt start after ``delay`` seconds, however long this one ran.

    The message is hidden for the delay. The host deletes it when we return; with the pop
    receipt changed by this update it gets PopReceiptMismatch, which it ignores, so the message
    comes back after the backoff with dequeue_count + 1. A host that renewed the message's
    lease while the attempt ran (every 5 minutes) holds a newer pop receipt than ours: then the
    row stops being this message's, and a new message, saying how many attempts came before it,
    carries the retry; the host deletes this one when we return.
    """
    try:
        svc.queue.set_visibility(msg.id, msg.pop_receipt, delay)
        return
    except StorageUnavailable:
        log.info("Operation %s: its message's lease was renewed meanwhile; the retry goes in a new message.", op.id)
    # Released first: if the new message cannot be sent, this one comes back (without the backoff) and runs it.
    update_row(svc, op, lambda row: row.with_changes(messageid="") if row.messageid == msg.id
               and row.status is Status.WAITING_FOR_RESOURCES else None)
    svc.queue.enqueue(op.id, delay_seconds=delay, attempts=msg.attempt)


def _after_run(svc: Services, done: Operation) -> None:
    """What the worker that ended a run owes: for a finished operation its event to subscribers and its
    callback; for a recurring one waiting for its next occurrence, the message that starts it then."""
    if done.is_terminal:
        metrics.completed(done)
        done = publish_owed(svc, done)
        if done.callbackurl:
            deliver_callback(svc, done)
    elif done.status is Status.WAITING and done.postponeuntil is not None:
        svc.queue.enqueue(done.id, delay_seconds=max(0.0, (done.postponeuntil - svc.clock()).total_seconds()))
        log.info("Operation %s runs again at %s.", done.id, done.postponeuntil.isoformat())
