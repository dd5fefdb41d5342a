"""Events kept for paused subscribers, and sending them again once a pause is over.

While a subscriber's breaker is open (or half open, its one try on its way), an event for it is kept
(``KeptEvents``: one row per event, however many subscribers it is kept for) and nothing looks at it until
the pause is over: a subscriber down for a day costs a write per event, not a look at every kept event each
time a pause ends. The write that opens a breaker also queues a *drain* of the subscriber for when the pause
is over; the write that closes it, one for now.

A drain while the breaker is half open sends the oldest kept event (the one try the subscriber gets) and looks
again once that may have been answered: if it failed, the breaker opened again and that pause has its own
drain; once it worked, the kept events go a page at a time, spread over a few seconds each, oldest first,
and one last look a little later finds any event kept as the pause ended. The purge drops what is older than
BGOPS_EVENT_RETENTION_SECONDS, and sends a drain for any subscriber that is not paused and has events kept
(one whose drain could not be queued)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from ..domain.errors import StorageUnavailable, SubscriptionNotFound
from ..domain.subscriptions import Subscription, kept_key
from ..storage.event_messages import Drain, EventMessage
from ..storage.ports import KeptEvent
from .container import Services

log = logging.getLogger(__name__)
DRAIN_PAGE = 100  # kept events sent again at once, once a subscriber's breaker is closed ...
DRAIN_PAGE_SECONDS = 5.0  # ... spread over this long, the next page after it
LAST_LOOK_SECONDS = 30.0  # after the last page: an event kept as the pause ended may have been written late
WATCH_MARGIN_SECONDS = 5.0  # how long after an attempt must have ended the message watching it comes
CLOCK_SKEW = timedelta(minutes=1)  # how far another instance's clock may be behind this one's
FROM_THE_START = kept_key(datetime(1970, 1, 1, tzinfo=UTC), "")


def trial_seconds(svc: Services) -> float:
    """How long the one try a half-open subscriber gets may take to be sent and answered (``events._watch``)."""
    return 2 * svc.settings.callback_delivery.timeout_seconds + WATCH_MARGIN_SECONDS


def keep(svc: Services, payload: dict[str, Any], since: datetime, subscriber_ids: list[str]) -> None:
    """Keep the event (first queued ``since``) for these subscribers, now (one write; none when there are none)."""
    if subscriber_ids:
        svc.kept.keep(KeptEvent(kept_key(svc.clock(), operation_of(payload)), payload, since), subscriber_ids)


def operation_of(payload: dict[str, Any]) -> str:
    """The id of the operation an event is about."""
    return str(payload.get("InputParameters", {}).get("BackgroundOperationId", ""))


def name_of(payload: dict[str, Any]) -> str:
    """The name of the operation an event is about."""
    return str(payload.get("OutputParameters", {}).get("OperationName", ""))


def send_drain(svc: Services, sub: Subscription, now: datetime, after: str = "") -> None:
    """Queue the drain of a subscriber whose breaker was written open (for when its pause is over) or closed (now);
    if it cannot be queued, the purge finds the subscriber's kept events, or its next closing does."""
    delay = (sub.pauseduntil - now).total_seconds() if sub.pauseduntil is not None and sub.paused(now) else 0.0
    try:
        svc.queue.enqueue_event(Drain(sub.id, after=after).encode(), delay_seconds=delay)
    except StorageUnavailable:
        log.warning("Could not queue the sending of the events kept for subscription %s; the purge will.", sub.id)


def drain(svc: Services, message: Drain) -> None:
    """Send a subscriber's kept events again, as its breaker allows (read from storage: another instance may have
    opened or closed it since this one's list was read)."""
    try:
        sub = svc.subscriptions.get(message.subscription_id)
    except SubscriptionNotFound:
        return
    now = svc.clock()
    if sub.paused(now):
        return  # paused again: that pause queued its own drain
    half_open = sub.pauseduntil is not None
    after = message.after or _opened(sub)
    kept = svc.kept.waiting(sub.id, 1 if half_open else DRAIN_PAGE, after)
    retention = timedelta(seconds=svc.settings.event_retention_seconds)
    for n, event in enumerate(kept):
        if now - event.since <= retention:
            svc.queue.enqueue_event(EventMessage(sub.id, event.payload, since=event.since).encode(),
                                    delay_seconds=n * DRAIN_PAGE_SECONDS / DRAIN_PAGE)
        svc.kept.sent(event, sub.id)
    if half_open and kept:  # its one try: look again once it may have been answered (a last look: if it worked,
        # the closing queued a drain of its own)
        svc.queue.enqueue_event(Drain(sub.id, last=True, after=after).encode(), delay_seconds=trial_seconds(svc))
    elif len(kept) == DRAIN_PAGE:
        svc.queue.enqueue_event(Drain(sub.id, after=kept[-1].key).encode(), delay_seconds=DRAIN_PAGE_SECONDS)
    elif not half_open and not message.last:
        svc.queue.enqueue_event(Drain(sub.id, last=True).encode(), delay_seconds=LAST_LOOK_SECONDS)
    if kept:
        log.info("Sent %d kept event(s) to subscription %s again.", len(kept), sub.id)


def _opened(sub: Subscription) -> str:
    """The key the events kept for a subscriber are found from: when its breaker last opened, less CLOCK_SKEW (other
    instances' clocks), or the start."""
    return "" if sub.pausedsince is None else kept_key(sub.pausedsince - CLOCK_SKEW, "")


def tidy_kept(svc: Services) -> int:
    """Drop the kept events older than their retention; queue a drain for each subscriber that is not paused and
    has events kept. How many were dropped."""
    now = svc.clock()
    dropped = svc.kept.drop_before(kept_key(now - timedelta(seconds=svc.settings.event_retention_seconds), ""))
    for sub in svc.subscriptions.list():  # (one never paused has nothing kept: not read for)
        if sub.pausedsince is not None and not sub.paused(now) and svc.kept.waiting(sub.id, 1):  # from the start:
            # one kept after its last drain
            send_drain(svc, sub, now, FROM_THE_START)
    if dropped:
        log.warning("Dropped %d event(s) kept for paused subscribers for longer than their retention.", dropped)
    return dropped
