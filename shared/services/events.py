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
  the subscription), its events kept untouched and sent again when the pause is over (``services.kept``);
  one that answers 410 Gone is unsubscribed. At least once, never logged by URL.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
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
from ..domain.ids import parse_operation_id
from ..domain.operation import EVENTS_OWED, EVENTS_PUBLISHED, Operation
from ..domain.subscriptions import (
    MAX_PAUSE,
    Subscription,
    after_delivery,
    as_sent,
    check_event,
    check_filter,
    event_payload,
    outputs_to_read,
    with_outputs,
)
from ..storage import event_messages
from ..storage.event_messages import CallbackRetry, Drain, EventMessage, FanOut
from ..storage.ports import Sent
from ..telemetry import metrics, spans
from .callbacks import retry_callback
from .container import Services
from .delivery import GONE, Delivery, post_once
from .kept import WATCH_MARGIN_SECONDS, drain, keep, name_of, operation_of, send_drain, trial_seconds
from .locations import status_location
from .rows import update_row

log = logging.getLogger(__name__)
UPDATE_ROUNDS = 4  # tries at recording a delivery on its subscription when others record theirs at once
PATIENCE_SECONDS = 2.0  # how long notify waits for an attempt before giving the host its slot back
INLINE_SUBSCRIBERS = 2  # more than this, and the worker sends one fan-out message instead of one each


def publish_owed(svc: Services, op: Operation) -> Operation:
    """Keep the owed event for the subscribers that wait for a pause to end, and put it on the events queue for
    the others (a message each, or one fan-out, for when the first of them may be tried), then mark it
    published."""
    if op.eventsstate != EVENTS_OWED:
        return op
    payload = event_payload(op, status_location(svc.settings, op))
    subscribers, now = svc.subscription_cache.matching(op), svc.clock()
    waits = _keep_or_wait(svc, payload, now, subscribers, now, take=False)
    if len(waits) > INLINE_SUBSCRIBERS:
        svc.queue.enqueue_event(FanOut(payload, now, tuple(waits)).encode(), delay_seconds=_spread(min(waits.values())))
    elif waits:
        _fan_out(svc, payload, [s for s in subscribers if s.id in waits], now)
    log.info("Operation %s: completion event queued for %d subscriber(s).", op.id, len(subscribers))
    try:
        return update_row(svc, op, lambda row: row.with_changes(eventsstate=EVENTS_PUBLISHED)
                          if row.eventsstate == EVENTS_OWED else None)
    except OperationNotFound:
        return op


def notify(svc: Services, body: str) -> None:
    """One attempt at what an events-queue message asks for: an event to a subscriber, a callback, or sending a
    subscriber's kept events."""
    try:
        message = event_messages.decode(body)
    except InvalidRequest:
        log.warning("Dropped an events-queue message that is not an event.")
        return
    if isinstance(message, CallbackRetry):
        retry_callback(svc, message)
    elif isinstance(message, Drain):
        drain(svc, message)
    elif isinstance(message, FanOut):
        subscribers = _subscribers_of(svc, message.payload, message.subscribers)
        _fan_out(svc, message.payload, subscribers, message.since or svc.clock())
    else:
        deliver_event(svc, message)


def _fan_out(svc: Services, payload: dict[str, Any], subscribers: list[Subscription], since: datetime) -> None:
    """The event kept for the subscribers that wait for a pause to end; a message for each that may be tried now;
    one fan-out, for when the first of them may be tried, for those that must wait (as many deliveries on
    their way to them as they may take), so that a subscriber that hangs costs one message per event, not
    one each time it is looked at."""
    now = svc.clock()
    waits = _keep_or_wait(svc, payload, since, subscribers, now)
    for sub_id in (s for s, wait in waits.items() if wait == 0):
        svc.queue.enqueue_event(EventMessage(sub_id, payload, since=since).encode())
    waiting = tuple(s for s, wait in waits.items() if wait > 0)
    if waiting:
        svc.queue.enqueue_event(FanOut(payload, since, waiting).encode(),
                                delay_seconds=_spread(min(waits[s] for s in waiting)))


def _subscribers_of(svc: Services, payload: dict[str, Any], only: tuple[str, ...] | None) -> list[Subscription]:
    """The subscriptions an event's operation matches (by its name, the one thing a filter looks at), or
    those of ``only`` that still exist."""
    if only is not None:
        return [sub for sub_id in only if (sub := svc.subscription_cache.get(sub_id)) is not None]
    return [s for s in svc.subscription_cache.all() if s.matches_name(name_of(payload))]


def deliver_event(svc: Services, message: EventMessage) -> None:
    """POST one event to its subscriber, unless the subscriber is paused or the event too old; logged."""
    sub = svc.subscription_cache.get(message.subscription_id)
    if sub is None:
        log.info("Dropped an event for subscription %s: it no longer exists.", message.subscription_id)
        return
    now = svc.clock()
    operation_id = operation_of(message.payload)
    if message.since is not None and now - message.since > timedelta(seconds=svc.settings.event_retention_seconds):
        log.warning("Dropped the event of operation %s to subscription %s: undelivered for longer than its "
                    "retention.", operation_id, sub.id)
        return
    if sub.paused(now) or not svc.subscription_cache.try_start(sub.id, sub.deliveries_at_once()):
        # paused, or as many deliveries as it may take on their way to it already: kept while its pause lasts or
        # the one try a half-open breaker gets is on its way, else put off
        if sub.pauseduntil is not None:
            keep(svc, message.payload, message.since or now, [sub.id])
        else:
            _again(svc, message, _spread(svc.settings.callback_delivery.timeout_seconds), message.attempt)
        return
    try:
        payload = _as_delivered(svc, message.payload)  # only for a delivery that goes ahead
    except StorageUnavailable:
        svc.subscription_cache.finish(sub.id)
        raise
    attempt = svc.pools.attempts.submit(_post_event, svc, sub, message, payload)
    try:
        delivery = attempt.result(timeout=PATIENCE_SECONDS)
    except FutureTimeout:
        _watch(svc, sub, message, attempt, now)
        return
    _after(svc, sub, message, delivery, now)


def _as_delivered(svc: Services, payload: dict[str, Any]) -> dict[str, Any]:
    """The event with its operation's outputs, read from the row when it has any (one point read; null when the
    row is gone). StorageUnavailable propagates: the host gets the message again."""
    if not outputs_to_read(payload):
        return payload
    try:
        outputs = svc.store.get(parse_operation_id(operation_of(payload))).outputs
    except (OperationNotFound, InvalidRequest):  # gone, or a message that names no operation
        outputs = None
    return with_outputs(payload, outputs)


def _post_event(svc: Services, sub: Subscription, message: EventMessage, payload: dict[str, Any]) -> Delivery:
    """One POST of an event (``payload``: its outputs read) to its subscriber (in ``svc.pools.attempts``), counted
    in flight until it ends."""
    operation_id, (body, trace) = operation_of(message.payload), as_sent(payload)
    try:
        with spans.sending_event(trace, operation_id, sub.id, message.attempt) as span:
            began = time.monotonic()
            delivery = post_once(sub.notification_url, body, policy=svc.settings.outbound,
                                 timeout_seconds=svc.settings.callback_delivery.timeout_seconds,
                                 message_id=f"msg_{operation_id}_{sub.id}",
                                 signing_key=svc.settings.callback_signing_key, headers=spans.outbound_headers(trace))
            spans.delivered(span, delivery.delivered, delivery.detail)
            metrics.delivered(name_of(body), "event", time.monotonic() - began, delivery.status, delivery.detail)
    finally:
        svc.subscription_cache.finish(sub.id)
    log.info("Event of operation %s to subscription %s, attempt %d: %s (%s).", operation_id, sub.id,
             message.attempt, "delivered" if delivery.delivered else "FAILED", delivery.detail)
    return delivery


def _watch(svc: Services, sub: Subscription, message: EventMessage, attempt: Future[Delivery],
           now: datetime) -> None:
    """An attempt that outlasted PATIENCE_SECONDS: the host gets its slot back (else a subscriber that hangs
    would hold the slots every other event waits for), and the event's next attempt is queued for when this
    one must have ended, so that the event outlives this instance; once it ends, that message is sent
    sooner (a retry), or deleted."""
    next_attempt = EventMessage(message.subscription_id, message.payload, message.attempt + 1, message.since)
    watch = svc.queue.enqueue_event(next_attempt.encode(), delay_seconds=svc.settings.callback_delivery.timeout_seconds
                                    + WATCH_MARGIN_SECONDS)
    attempt.add_done_callback(lambda ended: _after(svc, sub, message, ended.result(), now, watch))


def _after(svc: Services, sub: Subscription, message: EventMessage, delivery: Delivery, now: datetime,
           watch: Sent | None = None) -> None:
    """What follows an attempt: the subscription's breaker, and the event's next attempt if it may do better
    (the ``watch`` message, when the attempt had one, sent for then, or else deleted)."""
    retry = not delivery.delivered and delivery.retryable and delivery.status != GONE
    if delivery.status == GONE:
        try:
            unsubscribe(svc, sub.id)
        except SubscriptionNotFound:
            pass  # removed meanwhile
        log.info("Subscription %s answered 410 Gone and was removed.", sub.id)
    else:
        _record(svc, sub.id, delivery, now)
    pause = compute_backoff(message.attempt, base_seconds=svc.settings.callback_delivery.base_seconds,
                            max_seconds=MAX_PAUSE.total_seconds())
    try:
        if watch is not None:
            svc.queue.reschedule_event(watch, pause) if retry else svc.queue.delete_event(watch)
        elif retry:
            _again(svc, message, pause, message.attempt + 1)
    except StorageUnavailable:
        if watch is None:
            raise  # the host gets this message again
        log.warning("Could not change the next attempt of an event to subscription %s; it comes when due.", sub.id)


def _again(svc: Services, message: EventMessage, delay_seconds: float, attempt: int) -> None:
    svc.queue.enqueue_event(EventMessage(message.subscription_id, message.payload, attempt, message.since).encode(),
                            delay_seconds=delay_seconds)


def _spread(wait: float) -> float:
    """The delay of one message that waits ``wait`` seconds (the soonest of its subscribers' waits): spread over
    as long again, so that what waits comes back at about the pace it came, not all when the wait is over."""
    return wait + random.uniform(0, wait)


def _keep_or_wait(svc: Services, payload: dict[str, Any], since: datetime, subscribers: list[Subscription],
                  now: datetime, *, take: bool = True) -> dict[str, float]:
    """Keep the event for the subscribers that wait for a pause to end (``_wait_for`` is None); how long it waits
    for each of the others."""
    waits = {sub.id: _wait_for(svc, sub, now, take=take) for sub in subscribers}
    keep(svc, payload, since, [sub_id for sub_id, wait in waits.items() if wait is None])
    return {sub_id: wait for sub_id, wait in waits.items() if wait is not None}


def _wait_for(svc: Services, sub: Subscription, now: datetime, *, take: bool = True) -> float | None:
    """How long an event for a subscriber waits: None (it is kept) while it is paused, and when its pause is
    over and no delivery has worked since, unless this is the one try it gets (taken, unless not ``take``);
    while as many deliveries as it may take are on their way to it, for as long as one may take; 0 when it
    may be tried now."""
    if sub.paused(now):
        return None
    if sub.pauseduntil is not None:  # half open: one event goes, the others are kept until its answer
        cache = svc.subscription_cache
        if not (cache.take_trial(sub.id, trial_seconds(svc)) if take else not cache.trial_taken(sub.id)):
            return None
    if svc.subscription_cache.busy(sub.id, sub.deliveries_at_once()):
        return svc.settings.callback_delivery.timeout_seconds
    return 0.0


def _record(svc: Services, sub_id: str, delivery: Delivery, now: datetime) -> None:
    """Count a delivery on its subscriber's breaker: in this instance's cache, every thread on the count so far
    (an attempt that began before the breaker opened counts for nothing), and on the subscription itself when
    the breaker opens or closes (best effort: a record lost to a failure only delays a pause)."""
    def count(sub: Subscription) -> Subscription | None:
        if sub.paused(now):
            return None
        return after_delivery(sub, delivery.delivered, delivery.detail, now, timed_out=delivery.timed_out)

    counted = svc.subscription_cache.count(sub_id, count)
    if counted is not None and counted[1].pauseduntil != counted[0].pauseduntil:  # it opened or closed
        _write_breaker(svc, counted[1], now)


def _write_breaker(svc: Services, sub: Subscription, now: datetime) -> None:
    """Write a subscription whose breaker opened or closed, and queue the sending of its kept events for when
    that pause is over, or now; on a conflict, take up what another instance wrote if it paused or closed it
    already, else write this count over it."""
    for _ in range(UPDATE_ROUNDS):
        try:
            svc.subscription_cache.record(svc.subscriptions.replace(sub))
        except ConcurrencyConflict:
            try:
                stored = svc.subscriptions.get(sub.id)
            except (SubscriptionNotFound, StorageUnavailable):
                return
            if stored.paused(now) or (sub.pauseduntil is None and stored.pauseduntil is None):  # another instance
                svc.subscription_cache.record(stored)  # paused or closed it already (and queued its drain)
                return
            sub = dataclasses.replace(sub, etag=stored.etag)
            continue
        except (SubscriptionNotFound, StorageUnavailable):
            return
        if sub.pauseduntil is not None:
            log.warning("Subscription %s failed %d times in a row: paused until %s.", sub.id, sub.failures,
                        sub.pauseduntil.isoformat())
        send_drain(svc, sub, now)
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
