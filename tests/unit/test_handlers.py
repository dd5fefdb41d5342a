"""Running handlers (services/handlers.py): every way a handler ends becomes one Outcome."""

from __future__ import annotations

import pytest

from shared.domain.attempts import MAX_ERROR_MESSAGE_CHARS, Ending
from shared.domain.error_codes import HANDLER_FAILED, OUTPUTS_TOO_LARGE
from shared.domain.errors import NonRetryableError, OperationError, OperationInterrupted
from shared.operations.context import OperationContext
from shared.operations.registry import OperationDefinition, Parameter, ParamType
from shared.services.handlers import MAX_PARAMETER_BYTES, run_handler


def _run(handler, *, outputs=()):
    definition = OperationDefinition(name="t", handler=handler, outputs=tuple(outputs))
    return run_handler(definition, {"x": 1}, OperationContext(attempt=2))


def _raise(exc):
    def handler(inputs, context):
        raise exc
    return handler


def test_returned_outputs_succeed_with_a_copy_as_stored():
    outcome = _run(lambda inputs, context: {"Echo": inputs["x"], "List": [1, "a"]})
    assert outcome.ending is Ending.SUCCEEDED and outcome.outputs == {"Echo": 1, "List": [1, "a"]}


@pytest.mark.parametrize("exc, retryable, code", [
    (OperationError("boom", code=5), True, 5),
    (NonRetryableError("no"), False, HANDLER_FAILED),
    (KeyError("k"), True, HANDLER_FAILED),
])
def test_errors_fail_with_their_code_and_whether_a_retry_may_help(exc, retryable, code):
    outcome = _run(_raise(exc))
    assert (outcome.ending, outcome.errorcode, outcome.retryable) == (Ending.FAILED, code, retryable)
    assert outcome.errormessage


def test_honoured_interruption_is_stopped():
    assert _run(_raise(OperationInterrupted())).ending is Ending.STOPPED


def test_a_huge_error_message_is_cut_to_fit_the_row():
    outcome = _run(_raise(OperationError("x" * 100_000)))
    assert outcome.errormessage == "x" * MAX_ERROR_MESSAGE_CHARS


@pytest.mark.parametrize("result, words", [
    (["not", "a", "dict"], "not a dict"),
    ({"n": float("nan")}, "not JSON"),
    ({"o": object()}, "not JSON"),
    ({"big": "y" * MAX_PARAMETER_BYTES}, "at most 1,048,576 (1 MiB)"),
    ({"Count": "seven"}, "Count"),
])
def test_outputs_that_cannot_be_stored_or_break_the_declaration_fail_for_good(result, words):
    outcome = _run(lambda inputs, context: result, outputs=[Parameter("Count", ParamType.INT)])
    assert outcome.ending is Ending.FAILED and not outcome.retryable and words in outcome.errormessage


def test_outputs_over_1_mib_fail_for_good_with_their_own_error_code():
    outcome = _run(lambda inputs, context: {"big": "é" * (MAX_PARAMETER_BYTES // 2)})  # two bytes each in UTF-8
    assert (outcome.ending, outcome.retryable, outcome.errorcode) == (Ending.FAILED, False, OUTPUTS_TOO_LARGE)
    assert "1,048,576" in outcome.errormessage
    assert _run(lambda inputs, context: {"big": "y" * (MAX_PARAMETER_BYTES - 100)}).ending is Ending.SUCCEEDED
