"""Timer triggers: six-field NCRONTAB (seconds first) or a TimeSpan interval.

Follows TimerListener (Azure/azure-webjobs-sdk-extensions): local time
(DateTime.Now), ``run_on_startup`` runs once before the schedule starts, the
next occurrence is computed after a run ends so a timer never overlaps
itself. ``use_monitor`` is ignored (no schedule store), so ``past_due`` is
always False: the host sets IsPastDue only from the schedule monitor.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from azure.functions.timer import TimerRequest
from croniter import croniter

from .app_loader import FunctionSpec
from .config import SettingError, parse_timespan

log = logging.getLogger("devhost.timer")


class Schedule:
    """A timer schedule: NCRONTAB ``"0 */5 * * * *"`` or TimeSpan ``"00:05:00"``."""

    def __init__(self, expression: str):
        self.expression = expression.strip()
        self._interval = None
        if ":" in self.expression:
            self._interval = timedelta(seconds=parse_timespan(self.expression))
            if self._interval.total_seconds() <= 0:
                raise SettingError(f"timer interval must be positive: '{expression}'")
        else:
            if len(self.expression.split()) != 6:
                raise SettingError(f"'{expression}' is not a six-field NCRONTAB expression "
                                   "(second minute hour day month day-of-week)")
            try:
                croniter(self.expression, datetime.now(), second_at_beginning=True)
            except (ValueError, KeyError) as e:
                raise SettingError(f"invalid NCRONTAB expression '{expression}': {e}") from e

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (timezone-aware)."""
        if self._interval is not None:
            return moment + self._interval
        return croniter(self.expression, moment, second_at_beginning=True).get_next(datetime)


class TimerRunner:
    """Fires one timer function on its schedule in a background thread."""

    def __init__(self, spec: FunctionSpec, invoke: Callable[..., object]):
        if spec.schedule is None:
            raise ValueError(f"{spec.name} is not a timer function")
        self.spec = spec
        self.schedule = Schedule(spec.schedule)
        self._invoke = invoke
        self._stop = threading.Event()
        self._running = threading.Lock()  # one run at a time, scheduled or admin
        self._thread = threading.Thread(target=self._loop, name=f"devhost-timer-{spec.name}",
                                        daemon=True)

    def start(self) -> None:
        """Start the schedule (after a run-on-startup run, if configured)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop scheduling further runs; a run in progress is left to finish."""
        self._stop.set()

    def next_occurrences(self, count: int = 5) -> list[datetime]:
        """The next few occurrences, for the start-up banner."""
        moment, result = _now(), []
        for _ in range(count):
            moment = self.schedule.next_after(moment)
            result.append(moment)
        return result

    def run_now(self) -> None:
        """Run once now (admin endpoint), waiting for a run in progress."""
        self._run(reason="This function was programmatically called via the host APIs.")

    def _loop(self) -> None:
        if self.spec.trigger.run_on_startup:
            self._run(reason="Timer fired at startup (run_on_startup)")
        while not self._stop.is_set():
            due = self.schedule.next_after(_now())
            if self._stop.wait(max(0.0, (due - _now()).total_seconds())):
                return
            self._run(reason=f"Timer fired at {due.isoformat()}")

    def _run(self, reason: str) -> None:
        request = TimerRequest(past_due=False)  # the worker's concrete class
        with self._running:
            try:
                self._invoke(self.spec, request, reason=reason)
            except Exception:
                pass


def _now() -> datetime:
    # Local time, like DateTime.Now in TimerListener; aware, so croniter and
    # the subtraction above stay correct across DST changes.
    return datetime.now().astimezone()
