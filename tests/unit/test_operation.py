"""The operation row as a frozen value (shared/domain/operation.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.operation import CallbackState, from_key_values, to_key_values
from shared.domain.states import Event, OperationFinished, Status, TransitionRefused

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

LATER = NOW + timedelta(minutes=1)
SECRET = "https://example.com/cb?sig=TOPSECRET"


@pytest.mark.parametrize("event, before, after", [
    (Event.SUCCEED, Status.IN_PROGRESS, Status.SUCCEEDED),
    (Event.FAIL_FINAL, Status.IN_PROGRESS, Status.FAILED),
    (Event.CANCEL, Status.WAITING_FOR_RESOURCES, Status.CANCELED),
    (Event.STOP, Status.CANCELING, Status.CANCELED),
])
def test_terminal_event_sets_endtime_and_a_pending_callback_when_there_is_a_url(make_op, event, before, after):
    op = make_op(status=before, callbackurl=SECRET).apply(event, LATER)
    assert op.status is after
    assert op.endtime == LATER and op.modifiedon == LATER
    assert op.callbackstate is CallbackState.PENDING


def test_terminal_event_without_a_callback_url_owes_no_callback(make_op):
    op = make_op(status=Status.IN_PROGRESS).apply(Event.SUCCEED, LATER)
    assert op.endtime == LATER
    assert op.callbackstate is CallbackState.NONE


def test_empty_callback_url_owes_no_callback(make_op):
    op = make_op(status=Status.IN_PROGRESS, callbackurl="").apply(Event.SUCCEED, LATER)
    assert op.callbackstate is CallbackState.NONE


@pytest.mark.parametrize("event, before", [
    (Event.START, Status.WAITING_FOR_RESOURCES),
    (Event.FAIL, Status.IN_PROGRESS),
    (Event.CANCEL, Status.IN_PROGRESS),
    (Event.PAUSE, Status.IN_PROGRESS),
    (Event.POSTPONE, Status.WAITING_FOR_RESOURCES),
])
def test_non_terminal_event_sets_no_endtime_and_owes_no_callback(make_op, event, before):
    op = make_op(status=before, callbackurl=SECRET).apply(event, LATER)
    assert not op.status.is_terminal
    assert op.endtime is None
    assert op.callbackstate is CallbackState.NONE
    assert op.modifiedon == LATER


def test_apply_takes_extra_column_changes(make_op):
    op = make_op(status=Status.IN_PROGRESS).apply(Event.FAIL, LATER, retrycount=1, errorcode=-1, errormessage="x")
    assert (op.status, op.retrycount, op.errorcode, op.errormessage) == (Status.WAITING_FOR_RESOURCES, 1, -1, "x")


def test_apply_does_not_change_the_original_row(make_op):
    op = make_op(status=Status.IN_PROGRESS)
    op.apply(Event.SUCCEED, LATER)
    assert op.status is Status.IN_PROGRESS and op.endtime is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.status = Status.SUCCEEDED


def test_apply_refuses_a_transition_the_spec_does_not_allow(make_op):
    with pytest.raises(TransitionRefused):
        make_op(status=Status.WAITING).apply(Event.START, LATER)
    with pytest.raises(OperationFinished):
        make_op(status=Status.SUCCEEDED).apply(Event.CANCEL, LATER)


def test_is_terminal_follows_the_status(make_op):
    assert make_op(status=Status.FAILED).is_terminal
    assert not make_op(status=Status.CANCELING).is_terminal


def test_repr_never_shows_the_callback_url(make_op):
    op = make_op(callbackurl=SECRET, status=Status.IN_PROGRESS)
    assert "TOPSECRET" not in repr(op)
    assert "TOPSECRET" not in repr(op.apply(Event.SUCCEED, LATER))
    assert "TOPSECRET" not in str(op)


def test_etag_does_not_take_part_in_equality(make_op):
    op = make_op()
    assert op.with_changes(etag="W/1") == op.with_changes(etag="W/2")


def test_key_values_are_dataverses_json_array_of_key_value_pairs():
    assert to_key_values({"A": 1, "B": "x"}) == '[{"Key":"A","Value":1},{"Key":"B","Value":"x"}]'
    assert to_key_values(None) == "[]" and to_key_values({}) == "[]"


def test_from_key_values_of_nothing_is_empty():
    assert from_key_values(None) == {} and from_key_values("") == {} and from_key_values("[]") == {}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=8))
def test_key_values_round_trip(values):
    text = to_key_values(values)
    assert from_key_values(text) == values
    assert list(from_key_values(text)) == list(values)  # order kept
