"""Throughput at a glance (``domain.throughput``), read from the store's finish markers for one caller."""

from __future__ import annotations

from ..domain.callers import Caller
from ..domain.throughput import Interval, Window, count, first_start, window_named
from .container import Services


def throughput(svc: Services, caller: Caller, window_name: str | None, name: str | None = None
               ) -> tuple[Window, list[Interval]]:
    """How many of the operations the caller may see finished in each interval of the window, by outcome (of
    the operation ``name`` only, when given); InvalidRequest for a window there is not."""
    window, now = window_named(window_name), svc.clock()
    finishes = svc.store.finished(first_start(window, now), owner=caller.owner, name=name)
    return window, count(finishes, window, now)
