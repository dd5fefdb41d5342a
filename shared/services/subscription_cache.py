"""The subscription list, cached in memory so that finishing an operation with no subscribers costs nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..domain.operation import Operation
from ..domain.subscriptions import Subscription

CACHE_SECONDS = 30.0  # how stale another instance's view of a new or deleted subscription can be


class SubscriptionCache:
    """The subscription list, re-read from storage at most every ``ttl_seconds`` (per process)."""

    def __init__(self, load: Callable[[], list[Subscription]], ttl_seconds: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load, self._ttl, self._clock = load, ttl_seconds, clock
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._read_at: float | None = None

    def matching(self, op: Operation) -> list[Subscription]:
        """The subscriptions the completion of ``op`` goes to."""
        with self._lock:
            if self._read_at is None or self._clock() - self._read_at >= self._ttl:
                self._subscriptions, self._read_at = self._load(), self._clock()
            return [s for s in self._subscriptions if s.matches(op)]

    def invalidate(self) -> None:
        """Forget the list (this process changed it)."""
        with self._lock:
            self._read_at = None
