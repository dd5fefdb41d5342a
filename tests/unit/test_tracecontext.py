"""W3C Trace Context (shared/domain/tracecontext.py): what a receiver must accept, and what starts a new trace."""

from __future__ import annotations

import pytest

from shared.domain.tracecontext import TraceParent, child_of, parse

TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def test_a_version_00_traceparent_is_read_with_its_flags():
    assert parse(f"00-{TRACE}-{SPAN}-01") == TraceParent(TRACE, SPAN, 1)
    assert parse(f"00-{TRACE}-{SPAN}-00").sampled is False


def test_a_later_version_is_read_by_its_first_four_fields():
    assert parse(f"cc-{TRACE}-{SPAN}-01-what-comes-later") == TraceParent(TRACE, SPAN, 1)


@pytest.mark.parametrize("value", [
    None, "", f"ff-{TRACE}-{SPAN}-01",  # version ff is never valid
    f"00-{TRACE}-{SPAN}-01-more",  # version 00 has exactly four fields
    f"00-{TRACE.upper()}-{SPAN}-01", f"00-{TRACE[:-1]}-{SPAN}-01", f"00-{TRACE}-{SPAN}0-01",
    f"00-{'0' * 32}-{SPAN}-01", f"00-{TRACE}-{'0' * 16}-01", f"00-{TRACE}-{SPAN}-1", "00-xyz",
    f"00-{TRACE}-{SPAN}-0g", f"0-{TRACE}-{SPAN}-01", " " + f"00-{TRACE}-{SPAN}-01",
    f"00-{TRACE}-{SPAN}-01\n", "x" * 10_000, f"cc-{TRACE}-{SPAN}-01-" + "x" * 10_000,
])
def test_anything_else_is_no_traceparent(value):
    assert parse(value) is None


def test_a_child_keeps_the_trace_and_its_sampled_flag_with_a_new_span_id():
    parent = TraceParent(TRACE, SPAN, 0)
    child = child_of(parent)
    assert (child.trace_id, child.flags) == (TRACE, 0) and child.span_id != SPAN
    assert parse(child.header) == child


def test_without_a_parent_a_new_sampled_trace_begins_each_time():
    first, second = child_of(None), child_of(None)
    assert first.trace_id != second.trace_id and first.sampled and parse(first.header) == first
