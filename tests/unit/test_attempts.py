"""The end of an attempt, decided in one place (shared/domain/attempts.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.attempts import (
    CANCEL_UNSURE_WINDOW,
    UNRECORDED_WINDOW,
    RetryPolicy,
    cancel_event,
    end_attempt,
    failed,
    lost_attempt,
    may_run_unrecorded,
    may_start_from_message,
    poisoned,
    recording_due,
    start_attempt,
    started,
    stop_unstarted,
    stopped,
    succeeded,
    superseded,
)
from shared.domain.error_codes import UNEXPECTED
from shared.domain.operation import CallbackState
from shared.domain.states import Event, Status, TransitionRefused

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=4, base_seconds=30)


class Midpoint(random.Random):
    def random(self) -> float:
        return 0.5  # no jitter


def _running(make_op, **changes):
    return make_op(status=Status.IN_PROGRESS, retrycount=0, **changes)


def test_success_finishes_with_the_outputs_and_full_progress(make_op):
    plan = end_attempt(_running(make_op), succeeded({"N": 1}), 1, POLICY, NOW)
    assert plan.retry_after_seconds is None
    assert (plan.row.status, plan.row.outputs, plan.row.progresspercent, plan.row.endtime) == \
        (Status.SUCCEEDED, {"N": 1}, 100, NOW)


@pytest.mark.parametrize("attempt, delay", [(1, 30), (2, 60), (3, 120)])
def test_a_retryable_failure_with_attempts_left_goes_back_to_ready_after_a_growing_backoff(make_op, attempt, delay):
    plan = end_attempt(_running(make_op), failed(7, "boom"), attempt, POLICY, NOW, rng=Midpoint())
    assert plan.row.status is Status.WAITING_FOR_RESOURCES and plan.retry_after_seconds == delay
    assert (plan.row.retrycount, plan.row.errorcode, plan.row.errormessage) == (attempt, 7, "boom")


def test_the_last_attempt_fails_for_good(make_op):
    plan = end_attempt(_running(make_op), failed(7, "boom"), 4, POLICY, NOW)
    assert plan.row.status is Status.FAILED and plan.retry_after_seconds is None and plan.row.errorcode == 7


def test_a_non_retryable_failure_fails_for_good_on_the_first_attempt(make_op):
    plan = end_attempt(_running(make_op), failed(7, "no", retryable=False), 1, POLICY, NOW)
    assert plan.row.status is Status.FAILED and plan.retry_after_seconds is None


@pytest.mark.parametrize("asked, outcome, status", [
    (Status.CANCELING, stopped(), Status.CANCELED), (Status.PAUSING, stopped(), Status.WAITING),
    (Status.CANCELING, failed(1, "x"), Status.CANCELED), (Status.PAUSING, failed(1, "x"), Status.WAITING),
    (Status.CANCELING, succeeded({}), Status.SUCCEEDED), (Status.PAUSING, succeeded({}), Status.SUCCEEDED),
])
def test_a_cancel_or_pause_asked_meanwhile_decides_where_it_ends(make_op, asked, outcome, status):
    plan = end_attempt(make_op(status=asked), outcome, 1, POLICY, NOW)
    assert plan.row.status is status and plan.retry_after_seconds is None


def test_the_worker_that_finishes_claims_the_callback(make_op):
    plan = end_attempt(_running(make_op, callbackurl="https://cb.example/x"), succeeded({}), 1, POLICY, NOW)
    assert plan.row.callbackstate is CallbackState.SENDING and plan.row.callbackclaimedon == NOW


def test_a_finished_row_cannot_end_an_attempt(make_op):
    with pytest.raises(TransitionRefused):
        end_attempt(make_op(status=Status.CANCELED), succeeded({}), 1, POLICY, NOW)


def test_starting_an_attempt_locks_it_for_this_message_and_clears_the_last_error(make_op):
    row = start_attempt(make_op(errorcode=7, errormessage="last time"), "msg-2", 2, NOW)
    assert (row.status, row.messageid, row.retrycount, row.starttime) == (Status.IN_PROGRESS, "msg-2", 1, NOW)
    assert row.errorcode is None and row.errormessage is None


def test_a_lost_attempt_is_a_failed_one_that_says_so(make_op):
    row = lost_attempt(_running(make_op), 2, NOW)
    assert row.status is Status.WAITING_FOR_RESOURCES and row.errorcode == UNEXPECTED
    assert "attempt 2 stopped before it finished" in row.errormessage


def test_a_poisoned_message_fails_the_operation_naming_the_attempts(make_op):
    row = poisoned(_running(make_op), 4, NOW)
    assert row.status is Status.FAILED and "4 attempts in all" in row.errormessage


def test_an_error_message_is_cut_to_fit_the_row():
    assert len(failed(1, "x" * 10_000).errormessage) == 2000


# --- Attempts that run before they are recorded (four transactions for a quick operation) ---

@pytest.mark.parametrize("callback", [None, "https://example.com/cb"])
def test_a_young_ready_row_carried_by_its_first_message_may_run_unrecorded(make_op, callback):
    row = make_op(createdon=NOW - timedelta(seconds=1), callbackurl=callback)  # its message carries the URL
    assert may_run_unrecorded(row, 1, NOW)
    assert cancel_event(row, NOW) is Event.CANCEL_UNSURE


@pytest.mark.parametrize("why", ["second attempt", "old", "owned", "not ready"])
def test_anything_else_is_read_and_recorded_before_it_runs(make_op, why):
    row, attempt = make_op(createdon=NOW - timedelta(seconds=1)), 1
    if why == "second attempt":
        attempt = 2
    elif why == "old":
        row = row.with_changes(createdon=NOW - UNRECORDED_WINDOW)
    elif why == "owned":
        row = row.with_changes(messageid="message-0")
    else:
        row = row.with_changes(status=Status.WAITING)
    assert not may_run_unrecorded(row, attempt, NOW)


@pytest.mark.parametrize("why, starts", [("young", True), ("old", True), ("second attempt", False),
                                         ("owned", False), ("not ready", False), ("in a line", False)])
def test_a_first_message_s_ready_row_is_decided_on_unread_whatever_its_age(make_op, why, starts):
    row, attempt = make_op(createdon=NOW - timedelta(seconds=1)), 1
    changes = {"old": {"createdon": NOW - timedelta(hours=1)}, "owned": {"messageid": "message-0"},
               "not ready": {"status": Status.WAITING}, "in a line": {"concurrencykey": "k"}}
    row = row.with_changes(**changes.get(why, {}))
    attempt = 2 if why == "second attempt" else 1
    assert may_start_from_message(row, attempt) is starts
    assert may_run_unrecorded(row, attempt, NOW) is (why == "young")


def test_recording_is_due_when_the_row_leaves_the_window_and_never_later_than_the_window(make_op):
    assert recording_due(make_op(createdon=NOW - timedelta(seconds=2)), NOW) == 3.0
    assert recording_due(make_op(createdon=NOW - timedelta(seconds=9)), NOW) == 0.0
    assert recording_due(make_op(createdon=NOW + timedelta(seconds=60)), NOW) == UNRECORDED_WINDOW.total_seconds()


def test_cancel_of_a_row_a_worker_may_be_running_unrecorded_asks_instead_of_ending(make_op):
    young = make_op(createdon=NOW - timedelta(seconds=7))  # past the run window, inside the margin
    assert cancel_event(young, NOW) is Event.CANCEL_UNSURE
    assert young.apply(Event.CANCEL_UNSURE, NOW).status is Status.CANCELING


@pytest.mark.parametrize("changes", [{"createdon": NOW - CANCEL_UNSURE_WINDOW}, {"messageid": "message-0"},
                                     {"status": Status.WAITING}])
def test_cancel_of_a_row_no_worker_can_be_running_unrecorded_ends_it(make_op, changes):
    row = make_op(**{"createdon": NOW - timedelta(seconds=1), **changes})
    assert cancel_event(row, NOW) is Event.CANCEL


def test_the_end_of_an_unrecorded_attempt_records_its_start_too(make_op):
    began = NOW - timedelta(seconds=1)
    row = started(make_op(createdon=NOW - timedelta(seconds=2)), "message-1", 1, began)
    done = end_attempt(row, succeeded({"N": 1}), 1, POLICY, NOW).row
    assert (done.status, done.starttime, done.endtime, done.messageid, done.retrycount) == (
        Status.SUCCEEDED, began, NOW, "message-1", 0)


def test_an_attempt_canceled_while_unrecorded_ends_as_the_handler_ended(make_op):
    asked = make_op(status=Status.CANCELING)
    assert started(asked, "message-1", 1, NOW) is asked  # nothing to record: it was asked to stop
    assert end_attempt(asked, succeeded({"N": 1}), 1, POLICY, NOW).row.status is Status.SUCCEEDED  # work was done
    assert end_attempt(asked, stopped(), 1, POLICY, NOW).row.status is Status.CANCELED


def test_a_cancel_that_stopped_a_row_before_any_attempt_ends_it_canceled_without_a_start(make_op):
    done = stop_unstarted(make_op(status=Status.CANCELING), NOW)
    assert (done.status, done.starttime, done.endtime) == (Status.CANCELED, None, NOW)


@pytest.mark.parametrize("status, messageid, retrycount, attempt, moved_on", [
    (Status.IN_PROGRESS, "m1", 0, 1, False),  # its own attempt, running
    (Status.IN_PROGRESS, "m1", 1, 1, True),  # the same message's next attempt runs (the first was declared dead)
    (Status.IN_PROGRESS, "m2", 0, 1, True),  # another message owns it
    (Status.WAITING_FOR_RESOURCES, "", 0, 1, False),  # not recorded yet (ran from the carried row)
    (Status.WAITING_FOR_RESOURCES, "m1", 1, 1, True),  # attempt 1 already ended and set up the retry
    (Status.CANCELING, "m1", 2, 3, False),  # asked to cancel while attempt 3 runs: still attempt 3's to end
])
def test_a_late_attempt_is_fenced_off_once_the_row_moved_on(make_op, status, messageid, retrycount, attempt,
                                                             moved_on):
    row = make_op(status=status, messageid=messageid, retrycount=retrycount)
    assert superseded(row, "m1", attempt) is moved_on


def test_each_attempt_is_kept_with_its_start_end_and_error_and_a_new_run_starts_afresh(make_op):
    import json

    from shared.domain.recurrence import end_run

    row = start_attempt(make_op(), "m1", 1, NOW)
    row = end_attempt(row, failed(7, "boom"), 1, POLICY, NOW + timedelta(seconds=1)).row
    row = start_attempt(row, "m1", 2, NOW + timedelta(seconds=31))
    assert json.loads(row.attempts) == [
        {"attempt": 1, "startedon": "2030-01-02T03:04:05Z", "completedon": "2030-01-02T03:04:06Z",
         "outcome": "Failed", "errorcode": 7, "errormessage": "boom"},
        {"attempt": 2, "startedon": "2030-01-02T03:04:36Z"}]
    assert row.starttime == NOW  # the run's first start
    ended = end_attempt(row, succeeded({}), 2, POLICY, NOW + timedelta(seconds=32)).row
    assert json.loads(ended.attempts)[1] | {"startedon": None} == {
        "attempt": 2, "startedon": None, "completedon": "2030-01-02T03:04:37Z", "outcome": "Succeeded",
        "errorcode": None, "errormessage": None}
    recurring = row.with_changes(recurrencepattern="FREQ=DAILY", recurrencestarttime=NOW)
    assert end_run(recurring, Event.SUCCEED, NOW + timedelta(minutes=1)).attempts == ""


def test_an_attempt_whose_worker_died_is_kept_as_lost(make_op):
    import json

    row = start_attempt(make_op(), "m1", 1, NOW)
    lost = lost_attempt(row, 1, NOW + timedelta(seconds=9))
    [entry] = json.loads(lost.attempts)
    assert (entry["outcome"], entry["completedon"], entry["errorcode"]) == ("Lost", "2030-01-02T03:04:14Z", UNEXPECTED)
    gone = poisoned(start_attempt(lost.with_changes(status=Status.WAITING_FOR_RESOURCES), "m2", 2, NOW), 4, NOW)
    assert [e["outcome"] for e in json.loads(gone.attempts)] == ["Lost", "Lost"]
