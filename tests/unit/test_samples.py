"""The sample operations (shared/operations/samples.py) run with a fake context, no storage."""

from __future__ import annotations

import time

import pytest

from shared.domain.errors import NonRetryableError, OperationError, OperationInterrupted
from shared.domain.states import Status
from shared.operations.context import OperationContext
from shared.operations.samples import DEFAULT_ERROR_CODE, echo, fail, sleep, sync_records


class FakeRow:
    """The status a handler sees, changeable mid-run, and the progress it reports."""

    def __init__(self, status: Status = Status.IN_PROGRESS) -> None:
        self.status = status
        self.progress: list[tuple[int, str]] = []
        self.status_reads = 0

    def read_status(self) -> Status:
        self.status_reads += 1
        return self.status

    def context(self, attempt: int = 1) -> OperationContext:
        return OperationContext(operation_id="id", attempt=attempt, status=self.read_status,
                                progress=lambda percent, message: self.progress.append((percent, message)))


def test_echo_returns_its_inputs_as_a_copy():
    inputs = {"A": 1, "B": {"c": [1, 2]}}
    result = echo(inputs, FakeRow().context())
    assert result == inputs and result is not inputs


@pytest.mark.parametrize("attempt, fail_times", [(1, 1), (1, 3), (2, 3), (3, 3)])
def test_fail_fails_retryably_while_attempt_is_at_most_fail_times(attempt, fail_times):
    with pytest.raises(OperationError) as info:
        fail({"FailTimes": fail_times}, FakeRow().context(attempt))
    assert info.value.retryable is True and not isinstance(info.value, NonRetryableError)
    assert info.value.code == DEFAULT_ERROR_CODE
    assert f"attempt {attempt}" in str(info.value)


@pytest.mark.parametrize("attempt, fail_times", [(1, 0), (1, None), (2, 1), (4, 3)])
def test_fail_succeeds_after_fail_times_reporting_the_attempt(attempt, fail_times):
    assert fail({"FailTimes": fail_times}, FakeRow().context(attempt)) == {"Attempts": attempt}


def test_fail_without_inputs_succeeds_at_once():
    assert fail({}, FakeRow().context()) == {"Attempts": 1}


@pytest.mark.parametrize("attempt", [1, 5])
def test_fail_non_retryable_fails_for_good_whatever_the_attempt(attempt):
    with pytest.raises(NonRetryableError) as info:
        fail({"NonRetryable": True, "FailTimes": 0}, FakeRow().context(attempt))
    assert info.value.retryable is False


def test_fail_uses_the_requested_error_code():
    with pytest.raises(OperationError) as info:
        fail({"FailTimes": 1, "ErrorCode": -42}, FakeRow().context())
    assert info.value.code == -42
    with pytest.raises(NonRetryableError) as info:
        fail({"NonRetryable": True, "ErrorCode": -43}, FakeRow().context())
    assert info.value.code == -43


def test_sleep_sleeps_about_the_time_asked_and_reports_progress():
    row = FakeRow()
    started = time.monotonic()
    assert sleep({"Seconds": 0.3}, row.context()) == {"SleptSeconds": 0.3}
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5
    assert len(row.progress) >= 2
    percents = [p for p, _ in row.progress]
    assert percents == sorted(percents) and all(0 <= p <= 100 for p in percents)
    assert all(message.endswith("s left") for _, message in row.progress)


def test_sleep_of_zero_seconds_returns_at_once():
    assert sleep({"Seconds": 0}, FakeRow().context()) == {"SleptSeconds": 0}


@pytest.mark.parametrize("asked", [Status.CANCELING, Status.PAUSING], ids=lambda s: s.name)
def test_sleep_stops_early_when_a_cancel_or_pause_is_asked(asked):
    row = FakeRow(asked)
    started = time.monotonic()
    with pytest.raises(OperationInterrupted):
        sleep({"Seconds": 30}, row.context())
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("asked", [Status.CANCELING, Status.PAUSING], ids=lambda s: s.name)
def test_sleep_notices_a_request_made_while_it_runs(asked):
    row = FakeRow()

    def progress(percent, message):
        row.progress.append((percent, message))
        if len(row.progress) == 2:
            row.status = asked

    context = OperationContext(status=row.read_status, progress=progress)
    started = time.monotonic()
    with pytest.raises(OperationInterrupted):
        sleep({"Seconds": 30}, context)
    assert time.monotonic() - started < 2
    assert len(row.progress) == 2


def test_context_says_which_request_was_made():
    row = FakeRow()
    context = row.context()
    assert not context.cancel_requested and not context.pause_requested
    context.raise_if_interrupted()
    row.status = Status.CANCELING
    assert context.cancel_requested and not context.pause_requested
    row.status = Status.PAUSING
    assert context.pause_requested and not context.cancel_requested


def test_context_clamps_progress_to_0_100_and_shortens_the_message():
    row = FakeRow()
    context = row.context()
    context.report_progress(150, "x" * 500)
    context.report_progress(-5)
    context.report_progress(42.9, "half")
    assert row.progress == [(100, "x" * 200), (0, ""), (42, "half")]


@pytest.mark.parametrize("inputs, message", [
    ({"SyncMode": "Partial"}, "SyncMode must be Full or Incremental"),
    ({"SyncMode": "Incremental"}, "needs LastSyncDate"),
    ({"BatchSize": 0}, "BatchSize must be between 1 and 1000"),
    ({"BatchSize": 1001}, "BatchSize must be between 1 and 1000"),
])
def test_sync_refuses_bad_options_for_good_before_reading_any_table(inputs, message):
    class NoStorage:
        def get_table_client(self, name):
            raise AssertionError("the table was read before the options were checked")

    context = OperationContext(table_service=NoStorage())
    with pytest.raises(NonRetryableError, match=message):
        sync_records({"EntityName": "Contacts", "ExternalSystemUrl": "https://example.com/in", **inputs}, context)


@pytest.mark.parametrize("name", ["backgroundoperations", "BackgroundOperations"])
def test_no_handler_may_read_the_apps_own_table_through_the_context(name):
    class Storage:
        def get_table_client(self, table):
            raise AssertionError(f"{table} was opened")

    context = OperationContext(table_service=Storage(), own_tables=frozenset({"backgroundoperations"}))
    with pytest.raises(NonRetryableError, match="this app's own records"):
        context.table(name)
    with pytest.raises(NonRetryableError, match="this app's own records"):
        sync_records({"EntityName": name, "ExternalSystemUrl": "https://example.com/in"}, context)
