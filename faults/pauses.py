"""Pauses of the whole machine, seen as the wall clock running ahead of the monotonic clock.

A virtual machine that is paused (snapshotted, migrated) stops every process at once, and Linux's monotonic
clock with them; when it resumes, its wall clock is set right, seconds ahead. Azurite times queue messages
by the wall clock, so every lease the hosts hold can expire at once, although no host stopped renewing:
another host then takes the message and runs the job again, as the Functions host would after a lease that
ran out. A scenario measured across such a pause measures the machine, not the app. This sandbox's VM was
seen paused for 5 s (the kernel logged "crng reseeded due to virtual machine fork" at that moment, and a
host's monotonic clock counted 0.34 s for an invocation its log shows taking 5.37 s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

SAMPLE_SECONDS = 0.05
# The fault scenarios' hosts renew their 3-second leases every 1.5 s: a pause of 1 s is within what they
# absorb, one of 1.5 s may not be.
LIMIT_SECONDS = 1.0


@dataclass(frozen=True)
class Pause:
    """A pause: when the machine went on (wall clock) and how long it stood still."""

    resumed_at: float
    seconds: float


class PauseWatch:
    """Samples ``wall() - monotonic()`` in a thread; a jump of more than ``limit`` seconds is a pause."""

    def __init__(self, limit: float = LIMIT_SECONDS, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.wall, self.monotonic = limit, wall, monotonic
        self.pauses: list[Pause] = []
        self._offset = wall() - monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pause-watch", daemon=True)

    def __enter__(self) -> PauseWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> None:
        """Compare the clocks once (what the thread does every SAMPLE_SECONDS)."""
        offset = self.wall() - self.monotonic()
        if offset - self._offset > self.limit:
            self.pauses.append(Pause(self.wall(), offset - self._offset))
        self._offset = offset

    def since(self, count: int) -> list[Pause]:
        """The pauses after the first ``count`` (``len(watch.pauses)`` taken before a scenario)."""
        return self.pauses[count:]
