"""Timer-triggered functions (SPEC §7)."""

import azure.functions as func

from ..bootstrap import get_services
from ..services.kept import tidy_kept
from ..services.maintenance import purge_as_system_job

bp = func.Blueprint()


@bp.function_name("purge")
@bp.timer_trigger(arg_name="timer", schedule="%BGOPS_PURGE_SCHEDULE%", run_on_startup=False, use_monitor=True)
def purge(timer: func.TimerRequest) -> None:
    """Delete finished operations whose time to live has passed (the run shows on the purge's system job), and the
    events kept for paused subscribers past their retention."""
    services = get_services()
    purge_as_system_job(services)
    tidy_kept(services)
