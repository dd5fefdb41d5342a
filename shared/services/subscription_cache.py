"""The subscription list, cached in memory: finishing an operation with no subscribers costs nothing, and
delivering an event reads nothing.

It also holds this instance's own view of each subscriber's breaker (``domain.subscriptions``): failures
in a row are counted here and written to the subscription only when its breaker opens or closes, so that
a subscriber that fails a hundred events costs a handful of writes, not a hundred. And it counts the
deliveries to each subscriber in flight here, so that one that hangs takes at most a few of the delivery
threads (``Subscription.deliveries_at_once``).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..domain.operation import Operation
from ..domain.subscriptions import Subscription

CACHE_SECONDS = 30.0  # how stale another instance's view of a new or deleted subscription can be
UNKNOWN_REREAD_SECONDS = 1.0  # at most this often, a delivery for a subscription not in the list reads it again


class SubscriptionCache:
    """The subscription list, re-read from storage at most every ``ttl_seconds`` (per process)."""

    def __init__(self, load: Callable[[], list[Subscription]], ttl_seconds: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load, self._ttl, self._clock = load, ttl_seconds, clock
        self._lock = threading.Lock()
        self._subscriptions: dict[str, Subscription] = {}
        self._own: dict[str, Subscription] = {}  # this instance's newer breaker counts, kept across reloads
        self._read_at: float | None = None
        self._in_flight: dict[str, int] = {}
        self._trials: dict[str, float] = {}  # subscriber -> until when the try its half-open breaker gets is taken

    def matching(self, op: Operation) -> list[Subscription]:
        """The subscriptions the completion of ``op`` goes to."""
        with self._lock:
            self._fresh()
            return [s for s in self._subscriptions.values() if s.matches(op)]

    def all(self) -> list[Subscription]:
        """Every subscription."""
        with self._lock:
            self._fresh()
            return list(self._subscriptions.values())

    def get(self, subscription_id: str) -> Subscription | None:
        """One subscription as this instance knows it; the list is read again first when it does not hold it
        (it may be new, from another instance) and was read more than UNKNOWN_REREAD_SECONDS ago."""
        with self._lock:
            self._fresh()
            stale = self._read_at is None or self._clock() - self._read_at >= UNKNOWN_REREAD_SECONDS
            if subscription_id not in self._subscriptions and stale:
                self._read_at = None
                self._fresh()
            return self._subscriptions.get(subscription_id)

    def count(self, subscription_id: str, change: Callable[[Subscription], Subscription | None]
              ) -> tuple[Subscription, Subscription] | None:
        """Apply ``change`` to this instance's view of a subscription, at once for every thread that counts on
        it; (before, after), or None when the subscription is not known or ``change`` changes nothing."""
        with self._lock:
            before = self._subscriptions.get(subscription_id)
            after = None if before is None else change(before)
            if before is None or after is None:
                return None
            self._own[subscription_id] = self._subscriptions[subscription_id] = after
            return before, after

    def record(self, sub: Subscription) -> None:
        """This instance's newer view of a subscription (its breaker), written to storage or not."""
        with self._lock:
            self._own[sub.id] = self._subscriptions[sub.id] = sub

    def try_start(self, subscription_id: str, at_once: int) -> bool:
        """Count a delivery to the subscriber in flight (``finish`` when it ends); False, and nothing counted,
        when ``at_once`` already are."""
        with self._lock:
            may = self._in_flight.get(subscription_id, 0) < at_once
            if may:
                self._in_flight[subscription_id] = self._in_flight.get(subscription_id, 0) + 1
            return may

    def finish(self, subscription_id: str) -> None:
        """A delivery counted by ``try_start`` ended."""
        with self._lock:
            self._in_flight[subscription_id] -= 1

    @contextmanager
    def delivering(self, subscription_id: str, at_once: int) -> Iterator[bool]:
        """``with cache.delivering(id, n) as may:`` ``try_start`` for the block, and ``finish`` after it."""
        may = self.try_start(subscription_id, at_once)
        try:
            yield may
        finally:
            if may:
                self.finish(subscription_id)

    def busy(self, subscription_id: str, at_once: int) -> bool:
        """Whether ``at_once`` deliveries are on their way to a subscriber from this instance."""
        with self._lock:
            return self._in_flight.get(subscription_id, 0) >= at_once

    def trial_taken(self, subscription_id: str) -> bool:
        """Whether the one delivery a subscriber whose pause is over gets has been sent from this instance (and
        may still be on its way)."""
        with self._lock:
            return self._trial_until(subscription_id) > self._clock()

    def take_trial(self, subscription_id: str, seconds: float) -> bool:
        """Take the one delivery a subscriber whose pause is over gets, for ``seconds`` (as long as it may take
        to be sent and answered); False when it is taken."""
        with self._lock:
            now = self._clock()
            if self._trial_until(subscription_id) > now:
                return False
            self._trials[subscription_id] = now + seconds
            return True

    def _trial_until(self, subscription_id: str) -> float:
        return self._trials.get(subscription_id, float("-inf"))

    def invalidate(self) -> None:
        """Forget the list (this process changed it)."""
        with self._lock:
            self._read_at = None

    def _fresh(self) -> None:
        if self._read_at is not None and self._clock() - self._read_at < self._ttl:
            return
        loaded, self._read_at = self._load(), self._clock()
        self._subscriptions = {s.id: self._merged(s) for s in loaded}
        self._own = {k: v for k, v in self._own.items() if k in self._subscriptions}

    def _merged(self, stored: Subscription) -> Subscription:
        """The stored subscription, with this instance's count of failures when that is newer (its breaker
        has not opened or closed since)."""
        own = self._own.get(stored.id)
        if own is None or own.pauseduntil != stored.pauseduntil or own.failures <= stored.failures:
            return stored
        return dataclasses.replace(stored, failures=own.failures, lasterror=own.lasterror)
