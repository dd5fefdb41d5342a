"""The app's own maintenance, registered as operations so that its row reads as a system job:
internal (never submitted, never in the catalog) and restricted (callers may not cancel, pause
or resume it). The purge timer (``functions.maintenance``) runs it and records each run on its row."""

from __future__ import annotations

from typing import Any

from ..domain.errors import NonRetryableError
from .context import OperationContext
from .registry import OperationDefinition, OperationRegistry

PURGE = "bgops_PurgeExpired"


def _runs_on_its_timer(inputs: dict[str, Any], context: OperationContext) -> dict[str, Any]:
    raise NonRetryableError(f"{PURGE} runs on the app's purge timer, not from the queue.")


MAINTENANCE = (
    OperationDefinition(name=PURGE, handler=_runs_on_its_timer, display_name="Purge expired operations",
                        description="Deletes finished operations whose time to live has passed, on the schedule "
                                    "BGOPS_PURGE_SCHEDULE sets.", system_job=True, internal=True),
)


def register_maintenance(registry: OperationRegistry) -> None:
    """Add the app's own maintenance operations to ``registry``."""
    for definition in MAINTENANCE:
        registry.register(definition)
