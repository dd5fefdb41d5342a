"""Delivering completion callbacks: logged, never raised (rq's rule), and never holding an operation's thread.

The worker that finished an operation makes the first attempt, right after the write that finished it
(which also claimed the callback: ``Operation.conclude``). An attempt that may do better later (a
connection error, a timeout, 429 or 5xx) is handed to the events queue: the ``notify`` function makes
each further attempt in a pool of its own (``CallbackRetry``, one message per attempt, sent for when its
pause is over), so a receiver that hangs holds up no operation. The outcome is recorded on the row.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from ..domain.callbacks import status_body
from ..domain.errors import ConcurrencyConflict, OperationNotFound, StorageUnavailable
from ..domain.operation import CallbackState, Operation
from ..storage.event_messages import CallbackRetry
from ..telemetry import logs, metrics, spans
from . import deferred
from .container import Services
from .delivery import Delivery, post_once
from .locations import status_location
from .rows import update_row, write

log = logging.getLogger(__name__)


def claim_callback(svc: Services, op: Operation, now: datetime) -> Operation | None:
    """Mark a finished operation's callback as being sent by this worker (ETag-conditional).

    Returns the claimed row, or None when another worker claimed or settled it first.
    """
    if op.callbackstate not in (CallbackState.PENDING, CallbackState.SENDING):
        return None
    try:
        return write(svc, op.with_changes(callbackstate=CallbackState.SENDING, callbackclaimedon=now))
    except (ConcurrencyConflict, OperationNotFound):
        log.info("Callback of operation %s is being delivered elsewhere.", op.id)
        return None


def deliver_owed_callback(svc: Services, op: Operation, now: datetime) -> None:
    """Claim a finished operation's callback and, if the claim is ours, deliver it."""
    claimed = claim_callback(svc, op, now)
    if claimed:
        deliver_callback(svc, claimed)


def deliver_callback(svc: Services, op: Operation) -> Operation:
    """Make the first attempt at the callback of a claimed, finished operation; hand the rest on."""
    return _attempt(svc, op, 1)


def retry_callback(svc: Services, retry: CallbackRetry) -> None:
    """Make attempt ``retry.attempt`` at an operation's callback (the ``notify`` function), claiming it afresh
    so that no message of the work queue takes it over meanwhile."""
    try:
        op = svc.store.get(retry.operation_id)
    except OperationNotFound:
        return
    if op.callbackstate is not CallbackState.SENDING:
        log.info("Callback of operation %s was settled meanwhile (%s).", op.id, op.callbackstate.value)
        return
    claimed = claim_callback(svc, op, svc.clock())
    if claimed is not None:
        _attempt(svc, claimed, retry.attempt)


def _attempt(svc: Services, op: Operation, attempt: int) -> Operation:
    """POST the callback once; record how it ended, or queue the next attempt for when its pause is over."""
    if not op.callbackurl:  # nothing to deliver to (only a row with a URL owes a callback)
        return op
    policy = svc.settings.callback_delivery
    with spans.calling_back(op, attempt) as span, logs.operation(op.id, op.name):
        began = time.monotonic()
        delivery = post_once(op.callbackurl, status_body(op, status_location(svc.settings, op)),
                             policy=svc.settings.outbound, timeout_seconds=policy.timeout_seconds,
                             message_id=f"msg_{op.id}", signing_key=svc.settings.callback_signing_key,
                             headers=spans.outbound_headers(op.traceparent))
        spans.delivered(span, delivery.delivered, delivery.detail)
        metrics.delivered(op.name, "callback", time.monotonic() - began, delivery.status, delivery.detail)
    if not delivery.delivered and delivery.retryable and attempt < policy.attempts:
        svc.queue.enqueue_event(CallbackRetry(op.id, attempt + 1).encode(),
                                delay_seconds=policy.pause_after(attempt))
        log.info("Callback of operation %s: attempt %d failed (%s); attempt %d follows.", op.id, attempt,
                 delivery.detail, attempt + 1)
        return op
    return _record(svc, op, delivery, attempt)


def _record(svc: Services, op: Operation, delivery: Delivery, attempt: int) -> Operation:
    state = CallbackState.DELIVERED if delivery.delivered else CallbackState.FAILED
    result = f"{delivery.detail} after {attempt} attempt(s)" if delivery.delivered or delivery.retryable \
        else f"{delivery.detail} (not retried)"
    log.info("Callback of operation %s: %s (%s).", op.id, "delivered" if delivery.delivered else "FAILED", result)
    try:
        return update_row(svc, op, lambda row: row.with_changes(callbackstate=state, callbackresult=result))
    except OperationNotFound:
        return op
    except StorageUnavailable:  # it was sent: a message that comes back must not send it again
        deferred.record_callback(svc, op, state, result)
        return op
