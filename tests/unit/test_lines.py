"""The pure part of one at a time (``domain.lines``): lines' keys, tickets' order, who holds a place, and
the registry's declared keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.errors import InvalidRequest
from shared.domain.ids import new_operation_id
from shared.domain.lines import (
    ORGANIZATION,
    caller_key,
    holds_place,
    operation_key,
    shown_token,
    ticket,
    ticket_operation,
)
from shared.domain.states import Status
from shared.operations.registry import OperationRegistry, Parameter, ParamType
from shared.storage.keys import partition_of

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_tickets_sort_by_when_they_were_taken_then_by_position_in_one_request():
    ids = [new_operation_id(NOW) for _ in range(3)]
    taken = [ticket(ids[2], NOW, 0), ticket(ids[0], NOW, 1), ticket(ids[1], NOW, 2),
             ticket(ids[0], NOW + timedelta(milliseconds=1))]
    assert sorted(taken) == taken
    assert [ticket_operation(t) for t in taken] == [ids[2], ids[0], ids[1], ids[0]]


@pytest.mark.parametrize("status", list(Status))
def test_a_place_is_held_while_ready_or_locked_only(status):
    assert holds_place(status) == (status.state.value in (0, 2) and status is not Status.WAITING)


def test_a_callers_token_is_a_line_of_that_caller_only_and_shows_as_the_token():
    assert caller_key("nightly", "alice") != caller_key("nightly", "bob") != caller_key("nightly", "")
    assert shown_token(caller_key("nightly:v2", "alice")) == "nightly:v2"
    assert shown_token(operation_key("reports")) == "reports" and shown_token(ORGANIZATION) == "organization"
    assert shown_token("") is None


@pytest.mark.parametrize("token", ["", "   ", "x" * 257, 7, None, ["a"]])
def test_a_token_that_is_not_a_short_string_is_refused(token):
    with pytest.raises(InvalidRequest, match="DependencyToken"):
        caller_key(token, "alice")


def test_a_lines_partition_never_looks_like_a_shard_or_the_webhooks():
    partition = partition_of(ORGANIZATION)
    assert partition.startswith("l") and len(partition) == 33 and partition != partition_of("organisation")


def test_an_operation_declares_a_fixed_line_or_one_per_value_of_an_input():
    registry = OperationRegistry()
    fixed = registry.operation("Fixed", concurrency_key="reports")(lambda i, c: {})
    per = registry.operation("Per", inputs=[Parameter("Customer", ParamType.STRING)], concurrency_key="all",
                             concurrency_key_input="Customer")(lambda i, c: {})
    assert fixed and per
    assert registry.get("Fixed").line_of({}) == operation_key("reports")
    assert registry.get("Per").line_of({"Customer": "a"}) != registry.get("Per").line_of({"Customer": "b"})
    assert registry.get("Per").line_of({}) == operation_key("all")  # without the value: the fixed key


def test_a_line_input_that_is_not_declared_is_a_programming_error():
    with pytest.raises(ValueError, match="not one of its declared inputs"):
        OperationRegistry().operation("Bad", concurrency_key_input="Customer")(lambda i, c: {})
