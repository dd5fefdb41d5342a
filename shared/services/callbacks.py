"""Delivering completion callbacks: retried on transient failures, logged, never raised (rq's rule)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain.addresses import OutboundPolicy
from ..domain.callbacks import DeliveryPolicy, status_body
from ..domain.errors import ConcurrencyConflict, OperationNotFound, StorageUnavailable
from ..domain.operation import CallbackState, Operation
from ..domain.signing import signature_headers
from . import deferred
from .container import Services
from .locations import status_location
from .outbound import OutboundRefused, post_json
from .rows import update_row, write

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """How a delivery ended: ``detail`` is what the row records (a status code or an error type)."""

    delivered: bool
    detail: str
    status: int | None = None  # the last HTTP status, if there was an answer


def post_callback(url: str, payload: dict[str, Any], *, policy: OutboundPolicy, delivery: DeliveryPolicy,
                  message_id: str = "", signing_key: bytes | None = None,
                  sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """POST ``payload`` (``outbound``: checked address, no redirects); retry connection errors, 429 and
    5xx as ``delivery`` says. A refused address is not retried. Never logs the URL.

    With a ``signing_key``, each attempt is signed (Standard Webhooks) as message ``message_id``, the
    same id for every retry, so that a receiver can tell a repeat from a new message.
    """
    def sign(body: bytes) -> dict[str, str]:
        return signature_headers(signing_key, message_id, int(time.time()), body) if signing_key else {}

    detail, status = "", None
    for attempt in range(1, delivery.attempts + 1):
        try:
            status = post_json(url, payload, policy=policy, timeout=delivery.timeout_seconds, sign=sign)
        except OutboundRefused:
            return Delivery(False, "OutboundRefused: the host resolves to a non-public address (not retried)")
        except Exception as e:  # any failure is recorded; the exception text would carry the URL
            detail, status = type(e).__name__, None
        else:
            detail = str(status)
            if status < 300:
                return Delivery(True, f"{detail} after {attempt} attempt(s)", status)
            if status != 429 and status < 500:
                return Delivery(False, f"{detail} (not retried)", status)
        if attempt < delivery.attempts:
            sleep(delivery.pause_after(attempt))
    return Delivery(False, f"{detail} after {delivery.attempts} attempts", status)


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
    """POST the completion callback of a claimed, finished operation and record the outcome on its row."""
    payload = status_body(op, status_location(svc.settings, op))
    if not op.callbackurl:  # nothing to deliver to (only a row with a URL owes a callback)
        return op
    delivery = post_callback(op.callbackurl, payload, policy=svc.settings.outbound,
                             delivery=svc.settings.callback_delivery, message_id=f"msg_{op.id}",
                             signing_key=svc.settings.callback_signing_key)
    log.info("Callback of operation %s: %s (%s).", op.id, "delivered" if delivery.delivered else "FAILED",
             delivery.detail)
    state = CallbackState.DELIVERED if delivery.delivered else CallbackState.FAILED

    try:
        return update_row(svc, op, lambda row: row.with_changes(callbackstate=state, callbackresult=delivery.detail))
    except OperationNotFound:
        return op
    except StorageUnavailable:  # it was sent: a message that comes back must not send it again
        deferred.record_callback(svc, op, state, delivery.detail)
        return op
