"""faults/pauses.py: a pause of the whole machine told from a busy one, by the wall clock running ahead of the
monotonic clock (the fault scenarios are void across one)."""

from __future__ import annotations

from faults.pauses import Pause, PauseWatch


class Clocks:
    def __init__(self) -> None:
        self.wall, self.monotonic = 1_000.0, 50.0

    def run(self, seconds: float) -> None:  # both go on: busy or idle, not paused
        self.wall += seconds
        self.monotonic += seconds

    def pause(self, seconds: float) -> None:  # the VM stood still: only the wall clock is set on
        self.wall += seconds


def test_a_pause_longer_than_the_limit_is_seen_with_how_long_and_a_busy_or_slewed_clock_is_not():
    clocks = Clocks()
    watch = PauseWatch(limit=1.0, wall=lambda: clocks.wall, monotonic=lambda: clocks.monotonic)
    clocks.run(30)  # however long between samples, both clocks counted it
    watch.sample()
    clocks.pause(0.6)  # within the limit
    watch.sample()
    clocks.wall -= 2  # set back (NTP): not a pause
    watch.sample()
    assert watch.pauses == []
    clocks.run(1)
    clocks.pause(5.0)
    watch.sample()
    assert watch.pauses == [Pause(resumed_at=clocks.wall, seconds=5.0)]
    watch.sample()  # counted once
    assert watch.since(0) == watch.pauses and watch.since(1) == []
