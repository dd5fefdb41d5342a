"""Timer triggers on a six-field NCRONTAB schedule (seconds first), as TimerListener
(Azure/azure-webjobs-sdk-extensions) runs them: in local time (DateTime.Now), ``run_on_startup`` once
before the schedule starts, the next occurrence computed after a run ends (a timer never overlaps
itself). No schedule monitor, so ``past_due`` is always False. (The app's one timer, the purge, needs no
TimeSpan schedules; they are refused.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from azure.functions.timer import TimerRequest
from croniter import croniter

from .app_loader import FunctionSpec
from .config import SettingError


def next_after(expression: str, moment: datetime) -> datetime:
    """The first occurrence of ``expression`` strictly after ``moment``."""
    return croniter(expression, moment, second_at_beginning=True).get_next(datetime)


def checked_schedule(expression: str, what: str) -> str:
    """``expression`` if it is a six-field NCRONTAB schedule; SettingError naming ``what`` otherwise."""
    expression = expression.strip()
    if len(expression.split()) != 6:
        raise SettingError(f"{what}: '{expression}' is not a six-field NCRONTAB expression "
                           "(second minute hour day month day-of-week)")
    try:
        next_after(expression, _now())
    except (ValueError, KeyError) as e:
        raise SettingError(f"{what}: invalid NCRONTAB expression '{expression}': {e}") from e
    return expression


class TimerRunner:
    """Fires one timer function on its schedule in a background thread."""

    def __init__(self, spec: FunctionSpec, invoke: Callable[..., object]):
        self.spec, self._invoke = spec, invoke
        self.schedule = checked_schedule(spec.schedule or "", f"function '{spec.name}'")
        self._stop = threading.Event()
        self._running = threading.Lock()  # one run at a time, scheduled or admin

    def start(self) -> None:
        """Start the schedule (after a run-on-startup run, if configured)."""
        threading.Thread(target=self._loop, name=f"devhost-timer-{self.spec.name}", daemon=True).start()

    def stop(self) -> None:
        """Stop scheduling further runs; a run in progress is left to finish."""
        self._stop.set()

    def run_now(self) -> None:
        """Run once now (admin endpoint), waiting for a run in progress."""
        self._run("This function was programmatically called via the host APIs.")

    def _loop(self) -> None:
        if self.spec.trigger.run_on_startup:
            self._run("Timer fired at startup (run_on_startup)")
        while not self._stop.is_set():
            due = next_after(self.schedule, _now())
            if self._stop.wait(max(0.0, (due - _now()).total_seconds())):
                return
            self._run(f"Timer fired at {due.isoformat()}")

    def _run(self, reason: str) -> None:
        with self._running:
            try:
                self._invoke(self.spec, TimerRequest(past_due=False), reason=reason)
            except Exception:  # logged by the invoker; the schedule goes on
                pass


def _now() -> datetime:
    # Local time, as DateTime.Now; aware, so that croniter and the wait stay right across DST changes.
    return datetime.now().astimezone()
