"""Running handlers (services/handlers.py): every way a handler ends becomes one Outcome."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import wait_until

from shared.domain.attempts import MAX_ERROR_MESSAGE_CHARS, Ending
from shared.domain.error_codes import HANDLER_FAILED, OUTPUTS_TOO_LARGE, TIME_LIMIT_EXCEEDED
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


# --- Time limits ------------------------------------------------------------------------


def test_a_handler_past_its_time_limit_ends_the_attempt_at_once_as_a_retryable_failure():
    release, saw = threading.Event(), []

    def stuck(inputs, context):
        release.wait(30)  # ignores its time limit
        saw.append(context.time_is_up)
        return {"late": True}

    definition = OperationDefinition(name="t", handler=stuck)
    outcome = run_handler(definition, {}, OperationContext(attempt=1), time_limit=0.2)
    assert (outcome.ending, outcome.retryable, outcome.errorcode) == (Ending.FAILED, True, TIME_LIMIT_EXCEEDED)
    assert "time limit of 0.2 s" in outcome.errormessage and not release.is_set()  # did not wait for it
    release.set()
    wait_until(lambda: saw, timeout=5, message="the late handler to return")
    assert saw == [True]  # what it returned late counts for nothing; it could see its time was up


def test_a_handler_that_looks_at_its_time_stops_when_it_is_up():
    def polite(inputs, context):
        assert 0 < context.seconds_left <= 0.3
        while True:
            context.raise_if_interrupted()
            time.sleep(0.01)

    outcome = run_handler(OperationDefinition(name="t", handler=polite), {}, OperationContext(), time_limit=0.3)
    assert outcome.errorcode == TIME_LIMIT_EXCEEDED


def test_within_its_time_limit_a_handler_ends_as_it_would_without_one():
    definition = OperationDefinition(name="t", handler=lambda inputs, context: {"n": context.seconds_left > 0})
    assert run_handler(definition, {}, OperationContext(), time_limit=30).outputs == {"n": True}
    assert OperationContext().seconds_left is None and not OperationContext().time_is_up
