"""Running a handler, for the worker and for a synchronous request alike: how it ended, as an event."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..domain.error_codes import HANDLER_FAILED
from ..domain.errors import InvalidRequest, NonRetryableError, OperationError, OperationInterrupted
from ..domain.operation import from_key_values, to_key_values
from ..domain.states import Event
from ..operations.context import OperationContext
from ..operations.registry import OperationDefinition

log = logging.getLogger(__name__)

# A Table Storage string property holds at most 64 KiB (32K UTF-16 characters).
MAX_PARAMETER_CHARS = 32_000
MAX_ERROR_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: SUCCEED with outputs, STOP, or FAIL / FAIL_FINAL with an error."""

    event: Event
    outputs: dict[str, Any] | None = None
    errorcode: int | None = None
    errormessage: str | None = None

    @property
    def changes(self) -> dict[str, Any]:
        """The columns this outcome sets on the row."""
        if self.event is Event.SUCCEED:
            return {"outputs": self.outputs, "progresspercent": 100, "progressmessage": ""}
        if self.event is Event.STOP:
            return {}
        return {"errorcode": self.errorcode, "errormessage": self.errormessage}


def failure(event: Event, code: int, message: str) -> Outcome:
    """A failed outcome; the message is cut so that it always fits the row."""
    return Outcome(event, errorcode=code, errormessage=message[:MAX_ERROR_MESSAGE_CHARS])


def run_handler(definition: OperationDefinition, inputs: dict[str, Any], context: OperationContext,
                *, last_attempt: bool) -> Outcome:
    """Call the handler; every way it can end becomes an Outcome (nothing is raised)."""
    try:
        outputs = check_outputs(definition, definition.handler(dict(inputs), context))
    except OperationInterrupted:
        return Outcome(Event.STOP)
    except OperationError as e:
        event = Event.FAIL_FINAL if last_attempt or not e.retryable else Event.FAIL
        return failure(event, e.code or HANDLER_FAILED, str(e))
    except Exception as e:
        log.warning("Attempt %d of operation %s (%s) raised.", context.attempt, context.operation_id or "-",
                    definition.name, exc_info=True)
        return failure(Event.FAIL_FINAL if last_attempt else Event.FAIL, HANDLER_FAILED, f"{type(e).__name__}: {e}")
    return Outcome(Event.SUCCEED, outputs=outputs)


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
    if len(text) > MAX_PARAMETER_CHARS:
        raise NonRetryableError(f"The handler's outputs take {len(text)} characters; at most "
                                f"{MAX_PARAMETER_CHARS} fit.")
    return from_key_values(text)
