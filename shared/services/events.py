"""Completion events: who is owed one, fanning them out through the events queue, delivering each.

* **Owed.** The write that finishes an operation (``rows.write``) also marks it ``eventsstate=owed`` when a
  subscription matches, in the same transaction. The subscription list is cached in memory for
  ``CACHE_SECONDS``, so with no subscribers an operation costs no extra storage transaction.
* **Published.** Whoever finished it (or, after a crash, whichever worker gets its message next)
  puts one message per matching subscriber on ``<queue>-events`` and marks it published: a
  slow or dead subscriber delays nobody, not the operation, its callback or the other subscribers.
* **Delivered.** The ``notify`` function POSTs one event to one subscriber, retried like a
  callback; a subscriber that answers 410 Gone is unsubscribed. At least once, never logged by URL.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any

from ..domain.callbacks import check_callback_url
from ..domain.errors import InvalidRequest, OperationNotFound, SubscriptionNotFound, UnknownOperation
from ..domain.operation import EVENTS_OWED, EVENTS_PUBLISHED, Operation
from ..domain.subscriptions import Subscription, check_event, check_filter, event_payload
from .callbacks import post_callback
from .container import Services
from .locations import status_location
from .rows import update_row

log = logging.getLogger(__name__)
GONE = 410


def publish_owed(svc: Services, op: Operation) -> Operation:
    """Put the owed event on the events queue, one message per subscriber, then mark it published."""
    if op.eventsstate != EVENTS_OWED:
        return op
    payload = event_payload(op, status_location(svc.settings, op))
    subscribers = svc.subscription_cache.matching(op)
    for sub in subscribers:
        svc.queue.enqueue_event(json.dumps({"subscription": sub.id, "event": payload}))
    log.info("Operation %s: completion event queued for %d subscriber(s).", op.id, len(subscribers))
    try:
        return update_row(svc, op, lambda row: row.with_changes(eventsstate=EVENTS_PUBLISHED)
                          if row.eventsstate == EVENTS_OWED else None)
    except OperationNotFound:
        return op


def deliver_event(svc: Services, body: str) -> None:
    """POST one queued event to its subscriber; logged, never raised (a failed delivery is dropped)."""
    try:
        message = json.loads(body)
        sub_id, payload = subscription_id(str(message["subscription"])), message["event"]
    except (ValueError, KeyError, TypeError, RecursionError, SubscriptionNotFound):  # RecursionError: nested deep
        log.warning("Dropped an events-queue message that is not an event.")
        return
    try:
        sub = svc.subscriptions.get(sub_id)
    except SubscriptionNotFound:
        log.info("Dropped an event for subscription %s: it no longer exists.", sub_id)
        return
    operation_id = payload.get("InputParameters", {}).get("BackgroundOperationId")
    delivery = post_callback(sub.notification_url, payload, policy=svc.settings.outbound,
                             delivery=svc.settings.callback_delivery,
                             message_id=f"msg_{operation_id}_{sub.id}", signing_key=svc.settings.callback_signing_key)
    log.info("Event of operation %s to subscription %s: %s (%s).", operation_id, sub.id,
             "delivered" if delivery.delivered else "FAILED", delivery.detail)
    if delivery.status == GONE:
        try:
            unsubscribe(svc, sub.id)
        except SubscriptionNotFound:
            pass  # removed meanwhile
        log.info("Subscription %s answered 410 Gone and was removed.", sub.id)


def unsubscribe(svc: Services, sub_id: str) -> None:
    """Delete a subscription (SubscriptionNotFound when there is none) and forget the cached list."""
    try:
        svc.subscriptions.delete(subscription_id(sub_id))
    finally:
        svc.subscription_cache.invalidate()


SUBSCRIBE_FIELDS = ("NotificationUrl", "Filter")


def subscribe(svc: Services, event: str, body: dict[str, Any], now: datetime) -> Subscription:
    """Store a subscription to ``event``; InvalidRequest (and nothing stored) for anything amiss."""
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
