"""Running handlers (services/handlers.py): every way a handler ends becomes one Outcome."""

from __future__ import annotations

import pytest

from shared.domain.error_codes import HANDLER_FAILED
from shared.domain.errors import NonRetryableError, OperationError, OperationInterrupted
from shared.domain.states import Event
from shared.operations.context import OperationContext
from shared.operations.registry import OperationDefinition, Parameter, ParamType
from shared.services.handlers import MAX_ERROR_MESSAGE_CHARS, MAX_PARAMETER_CHARS, run_handler


def _run(handler, *, outputs=(), last_attempt=False):
    definition = OperationDefinition(name="t", handler=handler, outputs=tuple(outputs))
    return run_handler(definition, {"x": 1}, OperationContext(attempt=2), last_attempt=last_attempt)


def _raise(exc):
    def handler(inputs, context):
        raise exc
    return handler


def test_returned_outputs_succeed_with_a_copy_as_stored():
    outcome = _run(lambda inputs, context: {"Echo": inputs["x"], "List": [1, "a"]})
    assert outcome.event is Event.SUCCEED and outcome.outputs == {"Echo": 1, "List": [1, "a"]}
    assert outcome.changes == {"outputs": outcome.outputs, "progresspercent": 100, "progressmessage": ""}


@pytest.mark.parametrize("exc, last, event, code", [
    (OperationError("boom", code=5), False, Event.FAIL, 5),
    (OperationError("boom", code=5), True, Event.FAIL_FINAL, 5),
    (NonRetryableError("no"), False, Event.FAIL_FINAL, HANDLER_FAILED),
    (KeyError("k"), False, Event.FAIL, HANDLER_FAILED),
    (KeyError("k"), True, Event.FAIL_FINAL, HANDLER_FAILED),
])
def test_errors_become_fail_or_fail_final_with_their_code(exc, last, event, code):
    outcome = _run(_raise(exc), last_attempt=last)
    assert (outcome.event, outcome.errorcode) == (event, code)
    assert outcome.changes == {"errorcode": code, "errormessage": outcome.errormessage}


def test_honoured_interruption_is_stop_with_no_changes():
    outcome = _run(_raise(OperationInterrupted()))
    assert outcome.event is Event.STOP and outcome.changes == {}


def test_a_huge_error_message_is_cut_to_fit_the_row():
    outcome = _run(_raise(OperationError("x" * 100_000)))
    assert outcome.errormessage == "x" * MAX_ERROR_MESSAGE_CHARS


@pytest.mark.parametrize("result, words", [
    (["not", "a", "dict"], "not a dict"),
    ({"n": float("nan")}, "not JSON"),
    ({"o": object()}, "not JSON"),
    ({"big": "y" * (MAX_PARAMETER_CHARS + 1)}, "at most"),
    ({"Count": "seven"}, "Count"),
])
def test_outputs_that_cannot_be_stored_or_break_the_declaration_fail_for_good(result, words):
    outcome = _run(lambda inputs, context: result, outputs=[Parameter("Count", ParamType.INT)])
    assert outcome.event is Event.FAIL_FINAL and words in outcome.errormessage
