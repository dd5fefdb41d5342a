"""Timer-triggered functions (SPEC §7)."""

import azure.functions as func

from ..bootstrap import get_services
from ..services.kept import tidy_kept
from ..services.maintenance import purge_as_system_job
from ..telemetry import spans
from ..telemetry.spans import invocation_of

bp = func.Blueprint()


@bp.function_name("purge")
@bp.timer_trigger(arg_name="timer", schedule="%BGOPS_PURGE_SCHEDULE%", run_on_startup=False, use_monitor=True)
def purge(timer: func.TimerRequest, context: func.Context) -> None:
    """Delete finished operations whose time to live has passed (the run shows on the purge's system job), and the
    events kept for paused subscribers past their retention; a span under the timer's invocation."""
    services = get_services()
    with spans.purging(invocation_of(context)) as span:
        span.set({"purge.deleted": purge_as_system_job(services), "purge.events_dropped": tidy_kept(services)})
