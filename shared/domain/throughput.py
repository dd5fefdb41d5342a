"""Throughput at a glance: how many operations finished in each interval of the last hour or day, by outcome.

The finishes come from the finish markers the store writes with each finished row (``OperationStore.finished``);
this module only says which windows there are and counts them into intervals. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .errors import InvalidRequest
from .states import Status


@dataclass(frozen=True)
class Window:
    """A chart's span, cut into ``count`` intervals of ``interval``."""

    name: str
    interval: timedelta
    count: int


# At most a day: the chart reads every finish marker of its span, so its cost grows with the span.
WINDOWS = {w.name: w for w in (Window("hour", timedelta(minutes=1), 60), Window("day", timedelta(minutes=30), 48))}
OUTCOMES = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)


@dataclass(frozen=True)
class Finish:
    """One operation's end, as its finish marker records it."""

    endtime: datetime
    name: str
    status: Status


@dataclass
class Interval:
    """How many operations finished in ``[start, start + interval)``, by outcome."""

    start: datetime
    counts: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))


def window_named(name: str | None) -> Window:
    """The window ``name`` asks for (an hour unless given); InvalidRequest for any other."""
    found = WINDOWS.get(name or "hour")
    if found is None:
        raise InvalidRequest(f"window must be one of {', '.join(WINDOWS)}: a chart covers at most a day "
                             f"(not {str(name)[:40]!r}).")
    return found


def first_start(window: Window, now: datetime) -> datetime:
    """When the window's first interval starts: intervals end on whole multiples of the interval, the last
    one holding ``now``."""
    step = int(window.interval.total_seconds())
    last = datetime.fromtimestamp(int(now.timestamp()) // step * step, tz=now.tzinfo)
    return last - window.interval * (window.count - 1)


def count(finishes: Iterable[Finish], window: Window, now: datetime) -> list[Interval]:
    """Each interval of the window, oldest first, with the finishes that fall in it (others are left out)."""
    start = first_start(window, now)
    intervals = [Interval(start + window.interval * n) for n in range(window.count)]
    for finish in finishes:
        slot = int((finish.endtime - start) / window.interval)
        if 0 <= slot < window.count and finish.status in OUTCOMES:
            intervals[slot].counts[finish.status] += 1
    return intervals
