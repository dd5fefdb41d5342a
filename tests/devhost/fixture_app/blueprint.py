"""Timers, registered through a Blueprint as the real app does."""

import time

import azure.functions as func

bp = func.Blueprint()


@bp.timer_trigger(arg_name="timer", schedule="%FIXTURE_SCHEDULE%", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    from function_app import record
    record("tick", past_due=timer.past_due)


@bp.timer_trigger(arg_name="timer", schedule="*/1 * * * * *")
def slow_tick(timer: func.TimerRequest) -> None:
    """Fires every second but runs 1.5 s: runs must never overlap."""
    from function_app import record
    started = time.time()
    time.sleep(1.5)
    record("slow_tick", started=started, ended=time.time())
