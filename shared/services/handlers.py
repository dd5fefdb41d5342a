"""Running a handler, for the worker and for a synchronous request alike: how it ended, as an Outcome."""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ..domain.attempts import Ending, Outcome, failed, stopped, succeeded
from ..domain.callbacks import check_callback_url
from ..domain.callers import EVERYONE, Caller
from ..domain.error_codes import HANDLER_FAILED, OUTPUTS_TOO_LARGE, TIME_LIMIT_EXCEEDED
from ..domain.errors import InvalidRequest, NonRetryableError, OperationError, OperationInterrupted
from ..domain.operation import from_key_values, to_key_values
from ..operations.context import OperationContext
from ..operations.registry import OperationDefinition
from ..storage.ports import ListQuery, Page
from . import control, outbound
from .container import Services

log = logging.getLogger(__name__)

# What inputs, and outputs, may take each: their Key/Value JSON in UTF-8 (as a caller writes it; the
# stored form escapes what is not ASCII). The table store keeps a value too large for a Table property
# in a blob (storage/payloads.py).
MAX_PARAMETER_BYTES = 1024 * 1024
# How much of an unexpected exception's traceback its attempt keeps (domain.history bounds the text too).
TRACEBACK_FRAMES = 5


def too_large(values: dict[str, Any], what: str) -> str | None:
    """Why ``what`` (a dict of parameters) is too large, or None when it fits."""
    pairs = [{"Key": k, "Value": v} for k, v in values.items()]
    size = len(json.dumps(pairs, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    if size <= MAX_PARAMETER_BYTES:
        return None
    return (f"{what} take {size:,} bytes as JSON; at most {MAX_PARAMETER_BYTES:,} (1 MiB) fit. "
            "Pass larger data by reference (a blob URL, a table name) instead.")


OUTBOUND_TIMEOUT_SECONDS = 30


def handler_context(svc: Services, **facts: Any) -> OperationContext:
    """The context a handler runs with: ``facts`` (id, attempt, runas, status, progress), the app's storage
    account but not its own tables, the operations its caller could list through the API, and outbound
    HTTP by the rules callbacks follow."""

    def post_json(url: str, payload: Any) -> int:
        try:
            checked = check_callback_url(url, policy=svc.settings.outbound, what="The URL")
            return outbound.post_json(checked, payload, policy=svc.settings.outbound,
                                      timeout=OUTBOUND_TIMEOUT_SECONDS)
        except (InvalidRequest, outbound.OutboundRefused) as e:
            raise NonRetryableError(str(e)) from None

    return OperationContext(table_service=svc.table_service, own_tables=frozenset({svc.settings.table_name}),
                            post_json=post_json, list_operations=operations_visible_to(svc, facts.get("runas", "")),
                            **facts)


def operations_visible_to(svc: Services, runas: str) -> Callable[[ListQuery], Page]:
    """How a handler running as ``runas`` lists operations: as the API lists them to that caller."""

    def list_operations(query: ListQuery) -> Page:
        return control.list_operations(svc, query, caller_running_as(svc, runas))

    return list_operations


def caller_running_as(svc: Services, runas: str) -> Caller:
    """The caller whose view of the operations a handler running as ``runas`` gets; NonRetryableError when
    that caller may see none.

    A principal sees only its own, even one with the admin role: the row records who submitted it, not
    the roles it had, so its handler cannot be trusted with more. An empty ``runas`` is a caller nobody
    vouched for, who sees everyone's only while App Service Authentication is off (as the API shows them
    to any key holder); with it on, such an operation (submitted before it was turned on) sees nothing.
    """
    if runas:
        return Caller(runas, admin=False)
    if not svc.settings.platform_authentication:
        return EVERYONE
    raise NonRetryableError("This operation runs as no signed-in principal, and with App Service "
                            "Authentication on such a caller may list no operations.")


def run_handler(definition: OperationDefinition, inputs: dict[str, Any], context: OperationContext,
                *, time_limit: float | None = None) -> Outcome:
    """Call the handler; every way it can end becomes an Outcome (nothing is raised).

    With a ``time_limit`` the handler runs in a thread of its own, and if it has not returned when the
    time is up, the outcome is a retryable TIME_LIMIT_EXCEEDED failure at once: the handler sees that
    its time is up (``context.time_is_up``) and whatever it does after that no longer counts. (A
    thread cannot be stopped from outside: one that never looks keeps running until it returns.)
    What the outcome means for the row (retry or not, which columns) is ``domain.attempts``' to decide.
    """
    if time_limit is None:
        return _outcome(definition, inputs, context)
    context.deadline = time.monotonic() + time_limit
    ended: Future[Outcome] = Future()
    threading.Thread(target=lambda: ended.set_result(_outcome(definition, inputs, context)), daemon=True,
                     name=f"bgops-handler-{context.operation_id or definition.name}").start()
    try:
        outcome = ended.result(timeout=time_limit)
    except TimeoutError:  # still running
        return _past_limit(definition, context, time_limit)
    if outcome.ending is Ending.STOPPED and context.time_is_up:  # it stopped because its time was up
        return _past_limit(definition, context, time_limit)
    return outcome


def _past_limit(definition: OperationDefinition, context: OperationContext, time_limit: float) -> Outcome:
    log.warning("Attempt %d of operation %s (%s) ran past its time limit of %g s.", context.attempt,
                context.operation_id or "-", definition.name, time_limit)
    return failed(TIME_LIMIT_EXCEEDED, f"The attempt ran past its time limit of {time_limit:g} s.")


def _outcome(definition: OperationDefinition, inputs: dict[str, Any], context: OperationContext) -> Outcome:
    try:
        outputs = check_outputs(definition, definition.handler(dict(inputs), context))
    except OperationInterrupted:
        return stopped()
    except OperationError as e:
        return failed(e.code or HANDLER_FAILED, str(e), retryable=e.retryable)
    except Exception as e:
        log.warning("Attempt %d of operation %s (%s) raised.", context.attempt, context.operation_id or "-",
                    definition.name, exc_info=True)
        return failed(HANDLER_FAILED, f"{type(e).__name__}: {e}", traceback=last_frames(e))
    return succeeded(outputs)


def last_frames(error: BaseException, frames: int = TRACEBACK_FRAMES) -> str:
    """The last ``frames`` frames of ``error``'s traceback, and the error: where a handler broke."""
    stack = traceback.extract_tb(error.__traceback__)[-frames:]
    return "".join([*traceback.format_list(stack), *traceback.format_exception_only(error)])


def check_outputs(definition: OperationDefinition, outputs: Any) -> dict[str, Any]:
    """The handler's result as it will be stored; NonRetryableError unless it is a JSON object that fits,
    with the declared outputs of the declared types."""
    if not isinstance(outputs, dict):
        raise NonRetryableError(f"The handler returned {type(outputs).__name__}, not a dict of outputs.")
    try:
        for param in definition.outputs:
            if param.name in outputs:
                param.check(outputs[param.name])
        text = to_key_values(outputs)
    except InvalidRequest as e:
        raise NonRetryableError(f"The handler's output {e}") from None
    except (TypeError, ValueError) as e:
        raise NonRetryableError(f"The handler's outputs are not JSON: {e}") from None
    refusal = too_large(outputs, "The handler's outputs")
    if refusal:
        raise NonRetryableError(refusal, code=OUTPUTS_TOO_LARGE)
    return from_key_values(text)
