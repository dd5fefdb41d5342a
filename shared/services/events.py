"""Completion events: who is owed one, fanning them out through the events queue, delivering each.

* **Owed.** The write that finishes an operation (``rows.write``) also marks it ``eventsstate=owed`` when a
  subscription matches, in the same transaction. The subscription list is cached in memory for
  ``CACHE_SECONDS``, so with no subscribers an operation costs no extra storage transaction.
* **Published.** Whoever finished it (or, after a crash, whichever worker gets its message next)
  puts one message per matching subscriber on ``<queue>-events`` and marks it published; with more
  than INLINE_SUBSCRIBERS, one *fan-out* message instead, which the ``notify`` function turns into one
  per subscriber, so that a worker's thread never waits for many puts.
* **Delivered.** The ``notify`` function makes one attempt per message, in a pool of its own, so that
  a slow or dead subscriber holds up no operation, no callback and no other subscriber. An attempt that
  may do better later is queued again for when its pause is over (``DeliveryPolicy``, growing up to
  ``MAX_PAUSE``), until the event is older than BGOPS_EVENT_RETENTION_SECONDS. A subscriber whose
  deliveries keep failing is paused (``domain.subscriptions.after_delivery``: its breaker opens, shown on
  the subscription), its events kept and sent again when the pause is over; one that answers 410 Gone
  is unsubscribed. At least once, never logged by URL.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from ..domain.backoff import compute_backoff
from ..domain.callbacks import check_callback_url
from ..domain.errors import (
    ConcurrencyConflict,
    InvalidRequest,
    LimitReached,
    OperationNotFound,
    StorageUnavailable,
    SubscriptionNotFound,
    UnknownOperation,
)
from ..domain.operation import EVENTS_OWED, EVENTS_PUBLISHED, Operation
from ..domain.subscriptions import MAX_PAUSE, Subscription, after_delivery, check_event, check_filter, event_payload
from ..storage import event_messages
from ..storage.event_messages import CallbackRetry, EventMessage, FanOut
from .callbacks import retry_callback
from .container import Services
from .delivery import GONE, Delivery, post_once
from .locations import status_location
from .rows import update_row

log = logging.getLogger(__name__)
UPDATE_ROUNDS = 4  # tries at recording a delivery on its subscription when others record theirs at once
INLINE_SUBSCRIBERS = 2  # more than this, and the worker sends one fan-out message instead of one each


def publish_owed(svc: Services, op: Operation) -> Operation:
    """Put the owed event on the events queue (a message per subscriber, or one fan-out), then mark it
    published."""
    if op.eventsstate != EVENTS_OWED:
        return op
    payload = event_payload(op, status_location(svc.settings, op))
    subscribers, now = svc.subscription_cache.matching(op), svc.clock()
    if len(subscribers) > INLINE_SUBSCRIBERS:
        svc.queue.enqueue_event(FanOut(payload, now).encode())
    else:
        _fan_out(svc, payload, subscribers, now)
    log.info("Operation %s: completion event queued for %d subscriber(s).", op.id, len(subscribers))
    try:
        return update_row(svc, op, lambda row: row.with_changes(eventsstate=EVENTS_PUBLISHED)
                          if row.eventsstate == EVENTS_OWED else None)
    except OperationNotFound:
        return op


def notify(svc: Services, body: str) -> None:
    """One attempt at what an events-queue message asks for: an event to a subscriber, or a callback."""
    try:
        message = event_messages.decode(body)
    except InvalidRequest:
        log.warning("Dropped an events-queue message that is not an event.")
        return
    if isinstance(message, CallbackRetry):
        retry_callback(svc, message)
    elif isinstance(message, FanOut):
        _fan_out(svc, message.payload, _subscribers_of(svc, message.payload), message.since or svc.clock())
    else:
        deliver_event(svc, message)


def _fan_out(svc: Services, payload: dict[str, Any], subscribers: list[Subscription], since: datetime) -> None:
    """One message per subscriber; a paused one's waits until its pause is over."""
    now = svc.clock()
    for sub in subscribers:
        svc.queue.enqueue_event(EventMessage(sub.id, payload, since=since).encode(),
                                delay_seconds=_paused_for(sub, now))


def _subscribers_of(svc: Services, payload: dict[str, Any]) -> list[Subscription]:
    """The subscriptions an event's operation matches (by its name, the one thing a filter looks at)."""
    name = str(payload.get("OutputParameters", {}).get("OperationName", ""))
    return [s for s in svc.subscription_cache.all() if s.matches_name(name)]


def deliver_event(svc: Services, message: EventMessage) -> None:
    """POST one event to its subscriber, unless the subscriber is paused or the event too old; logged."""
    sub = svc.subscription_cache.get(message.subscription_id)
    if sub is None:
        log.info("Dropped an event for subscription %s: it no longer exists.", message.subscription_id)
        return
    now = svc.clock()
    operation_id = message.payload.get("InputParameters", {}).get("BackgroundOperationId")
    if message.since is not None and now - message.since > timedelta(seconds=svc.settings.event_retention_seconds):
        log.warning("Dropped the event of operation %s to subscription %s: undelivered for longer than its "
                    "retention.", operation_id, sub.id)
        return
    if sub.paused(now):  # kept, not tried: sent again when the pause is over
        _again(svc, message, _paused_for(sub, now), message.attempt)
        return
    timeout = svc.settings.callback_delivery.timeout_seconds
    with svc.subscription_cache.delivering(sub.id) as may:
        if not may:  # as many as it may take are on their way to it: this one waits for as long as one may take
            _again(svc, message, timeout + random.uniform(0, timeout), message.attempt)
            return
        delivery = post_once(sub.notification_url, message.payload, policy=svc.settings.outbound,
                             timeout_seconds=timeout, message_id=f"msg_{operation_id}_{sub.id}",
                             signing_key=svc.settings.callback_signing_key)
    log.info("Event of operation %s to subscription %s, attempt %d: %s (%s).", operation_id, sub.id,
             message.attempt, "delivered" if delivery.delivered else "FAILED", delivery.detail)
    _after(svc, sub, message, delivery, now)


def _after(svc: Services, sub: Subscription, message: EventMessage, delivery: Delivery, now: datetime) -> None:
    """What follows an attempt: the subscription's breaker, and the event's next attempt if it may do better."""
    if delivery.status == GONE:
        try:
            unsubscribe(svc, sub.id)
        except SubscriptionNotFound:
            pass  # removed meanwhile
        log.info("Subscription %s answered 410 Gone and was removed.", sub.id)
        return
    _record(svc, sub, delivery, now)
    if not delivery.delivered and delivery.retryable:
        pause = compute_backoff(message.attempt, base_seconds=svc.settings.callback_delivery.base_seconds,
                                max_seconds=MAX_PAUSE.total_seconds())
        _again(svc, message, pause, message.attempt + 1)


def _again(svc: Services, message: EventMessage, delay_seconds: float, attempt: int) -> None:
    svc.queue.enqueue_event(EventMessage(message.subscription_id, message.payload, attempt, message.since).encode(),
                            delay_seconds=delay_seconds)


def _paused_for(sub: Subscription, now: datetime) -> float:
    """Seconds until a paused subscriber is tried again (0 when it is not paused), spread over a few seconds
    so that its kept events do not all arrive at once."""
    return (sub.pauseduntil - now).total_seconds() + random.uniform(0, 5) if sub.pauseduntil and sub.paused(now) \
        else 0.0


def _record(svc: Services, sub: Subscription, delivery: Delivery, now: datetime) -> None:
    """Count a delivery on its subscriber's breaker: in this instance's cache, and on the subscription itself
    when the breaker opens or closes (best effort: a record lost to a failure only delays a pause)."""
    for _ in range(UPDATE_ROUNDS):
        changed = after_delivery(sub, delivery.delivered, delivery.detail, now)
        if changed is None:
            return
        if changed.pauseduntil == sub.pauseduntil:  # neither opened nor closed: counted here only
            svc.subscription_cache.record(changed)
            return
        try:
            svc.subscription_cache.record(svc.subscriptions.replace(changed))
        except ConcurrencyConflict:  # another instance wrote it: take that up, and count on it
            try:
                sub = svc.subscriptions.get(sub.id)
            except (SubscriptionNotFound, StorageUnavailable):
                return
            if sub.paused(now):  # it paused it already
                svc.subscription_cache.record(sub)
                return
            continue
        except (SubscriptionNotFound, StorageUnavailable):
            return
        if changed.pauseduntil is not None:
            log.warning("Subscription %s failed %d times in a row: paused until %s.", sub.id, changed.failures,
                        changed.pauseduntil.isoformat())
        return


def unsubscribe(svc: Services, sub_id: str) -> None:
    """Delete a subscription (SubscriptionNotFound when there is none) and forget the cached list."""
    try:
        svc.subscriptions.delete(subscription_id(sub_id))
    finally:
        svc.subscription_cache.invalidate()


SUBSCRIBE_FIELDS = ("NotificationUrl", "Filter")


def subscribe(svc: Services, event: str, body: dict[str, Any], now: datetime) -> Subscription:
    """Store a subscription to ``event``; InvalidRequest (and nothing stored) for anything amiss, and
    LimitReached when there are BGOPS_MAX_SUBSCRIPTIONS already."""
    event = check_event(event)
    unknown = sorted(set(body) - set(SUBSCRIBE_FIELDS))
    if unknown:
        raise InvalidRequest(f"A subscription has no field {', '.join(repr(u[:40]) for u in unknown)}; "
                             f"send {{\"NotificationUrl\": \"https://...\", \"Filter\": {{\"name\": \"...\"}}}}.")
    url = check_callback_url(body.get("NotificationUrl"), policy=svc.settings.outbound,
                             what="NotificationUrl")
    name = check_filter(body.get("Filter"))
    if name:
        try:
            name = svc.registry.get(name).name
        except UnknownOperation:
            raise InvalidRequest(f"Filter.name: no operation named '{name[:64]}' is registered.") from None
    if len(svc.subscriptions.list()) >= svc.settings.max_subscriptions:
        raise LimitReached(f"There are {svc.settings.max_subscriptions} subscriptions already, the most "
                           "BGOPS_MAX_SUBSCRIPTIONS allows: delete one you no longer need (DELETE webhooks/{id}), "
                           "or raise the setting.")
    sub = svc.subscriptions.create(Subscription(id=str(uuid.uuid4()), event=event, notification_url=url,
                                                operation_name=name, createdon=now))
    svc.subscription_cache.invalidate()
    log.info("Subscription %s to %s stored.", sub.id, event)
    return sub


def subscription_id(text: str) -> str:
    """A subscription id as stored (a GUID); SubscriptionNotFound for anything that cannot be one."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise SubscriptionNotFound(text) from None
