"""Recurring jobs, the pure part (``domain.recurrence``): which RRULEs are taken, what comes next, and
what a run's end does to the row."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.api import systemjobs, views
from shared.domain.errors import InvalidRequest
from shared.domain.ids import new_operation_id
from shared.domain.operation import Operation
from shared.domain.recurrence import RUN_HISTORY, end_run, parse_recurrence, run_times
from shared.domain.states import Event, Status

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


def _running(pattern="FREQ=HOURLY", start=NOW, **changes) -> Operation:
    return Operation(**{"id": new_operation_id(NOW), "name": "x", "displayname": "x", "status": Status.IN_PROGRESS,
                        "inputs": {}, "createdon": NOW, "modifiedon": NOW, "ttlinseconds": 60, "starttime": NOW,
                        "recurrencepattern": pattern, "recurrencestarttime": start, **changes})


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(("pattern", "occurrences"), [
    # The start (here the submission: no RecurrenceStartTime) is the first; BYHOUR is on the hour.
    ("FREQ=DAILY;INTERVAL=1;BYHOUR=9", [NOW, _at(25, 9), _at(26, 9)]),
    ("FREQ=DAILY;BYHOUR=2", [NOW, _at(26, 2), _at(27, 2)]),
    ("FREQ=DAILY;BYHOUR=2,14", [NOW, _at(25, 14), _at(26, 2)]),
    ("freq=weekly;byday=MO,FR;", [NOW, _at(27, 8, 30), _at(30, 8, 30)]),  # 25th is a Wednesday
    ("FREQ=MINUTELY;INTERVAL=15;COUNT=4", [NOW + timedelta(minutes=15 * n) for n in range(3)]),
    ("FREQ=MINUTELY;INTERVAL=1;COUNT=2", [NOW, NOW + timedelta(minutes=1)]),
    # COUNT counts the start when the pattern does not include it: two in all, not three.
    ("FREQ=DAILY;BYHOUR=2;COUNT=2", [NOW, _at(26, 2)]),
    ("FREQ=DAILY;BYHOUR=2;COUNT=1", [NOW]),
    ("RRULE:FREQ=MONTHLY;UNTIL=20270101T000000Z", [NOW, _at(25, 8, 30).replace(month=12)]),
])
def test_the_start_is_the_first_occurrence_then_the_patterns_follow(pattern, occurrences):
    recurrence = parse_recurrence(pattern, None, NOW)
    found = [recurrence.first()]
    while len(found) < 3 and (upcoming := recurrence.next_after(found[-1])) is not None:
        found.append(upcoming)
    assert found == occurrences


def test_a_start_time_to_come_is_the_first_occurrence_and_byhour_follows_on_the_hour():
    start = datetime(2026, 12, 1, 17, 45, 12, tzinfo=UTC)
    recurrence = parse_recurrence("FREQ=DAILY;BYHOUR=2", start, NOW)
    assert recurrence.first() == start
    assert recurrence.next_after(start) == datetime(2026, 12, 2, 2, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("pattern", "says"), [
    ("FREQ=SECONDLY", "FREQ, one of"),
    ("INTERVAL=2", "FREQ, one of"),
    ("FREQ=DAILY;BYMINUTE=5", "not allowed"),
    ("FREQ=DAILY;FREQ=HOURLY", "at most once"),
    ("FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z", "not both"),
    ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
    ("FREQ=DAILY;COUNT=-1", "COUNT"),
    ("FREQ=DAILY;BYDAY=XX", "cannot be read"),
    ("FREQ=DAILY;UNTIL=20270101T000000", "cannot be read"),  # UNTIL must be UTC
    ("FREQ=DAILY;UNTIL=20200101T000000Z", "never occurs"),
    ("FREQ=DAILY;" + "BYHOUR=1" * 40, "256"),
    ("", "RRULE"), (42, "RRULE"),
])
def test_a_pattern_outside_the_subset_is_refused_saying_what_to_fix(pattern, says):
    with pytest.raises(InvalidRequest, match=says):
        parse_recurrence(pattern, None, NOW)


def test_a_start_in_the_past_is_refused_beyond_five_minutes_and_taken_as_now_within():
    with pytest.raises(InvalidRequest, match="in the past"):
        parse_recurrence("FREQ=DAILY", NOW - timedelta(minutes=6), NOW)
    assert parse_recurrence("FREQ=DAILY", NOW - timedelta(minutes=4), NOW).first() == NOW - timedelta(minutes=4)


def test_a_run_that_ends_goes_back_to_waiting_until_the_next_occurrence_with_its_history():
    ended = end_run(_running(), Event.SUCCEED, NOW + timedelta(minutes=2), outputs={"A": 1})
    assert (ended.status, ended.postponeuntil, ended.outputs) == (Status.WAITING, NOW + timedelta(hours=1), {"A": 1})
    assert ended.starttime is None and ended.endtime is None and not ended.messageid
    [run] = json.loads(ended.recentruns)
    assert run == {"outcome": "Succeeded", "startedon": "2026-11-25T08:30:00Z",
                   "completedon": "2026-11-25T08:32:00Z", "errorcode": None}


def test_a_failed_run_recurs_too_but_a_cancel_ends_the_series():
    failed = end_run(_running(), Event.FAIL_FINAL, NOW, errorcode=-1, errormessage="no")
    assert failed.status is Status.WAITING and json.loads(failed.recentruns)[0]["outcome"] == "Failed"
    canceled = end_run(_running(status=Status.CANCELING), Event.STOP, NOW)
    assert canceled.status is Status.CANCELED and json.loads(canceled.recentruns)[0]["outcome"] == "Canceled"


def test_occurrences_missed_while_the_app_was_down_make_one_run_not_one_each():
    late = NOW + timedelta(hours=10, minutes=5)  # ten hourly occurrences went by
    ended = end_run(_running(), Event.SUCCEED, late)
    assert ended.postponeuntil == NOW + timedelta(hours=11)


def test_the_last_occurrence_ends_the_job_as_its_run_ended_and_the_ttl_counts_from_then():
    row = _running("FREQ=HOURLY;COUNT=2")
    last = end_run(row, Event.SUCCEED, NOW + timedelta(hours=1, minutes=1))  # the second occurrence has begun
    assert last.status is Status.SUCCEEDED and last.endtime == NOW + timedelta(hours=1, minutes=1)
    assert last.expires_at == last.endtime + timedelta(seconds=60)
    assert _running("").expires_at == NOW + timedelta(seconds=60)  # a one-off counts from its creation


def test_the_history_keeps_the_last_runs_only():
    row = _running()
    for hour in range(RUN_HISTORY + 3):
        row = end_run(row, Event.SUCCEED, NOW + timedelta(hours=hour)).with_changes(status=Status.IN_PROGRESS)
    runs = json.loads(row.recentruns)
    assert len(runs) == RUN_HISTORY and runs[-1]["completedon"] == "2026-11-25T20:30:00Z"


def test_a_one_off_concludes_as_before():
    row = _running("", None)
    assert end_run(row, Event.SUCCEED, NOW) == row.conclude(Event.SUCCEED, NOW)


def test_between_runs_the_last_runs_start_and_end_are_the_rows_as_lists_show_them():
    waiting = end_run(_running(), Event.SUCCEED, NOW + timedelta(minutes=2))
    assert (waiting.starttime, waiting.endtime) == (None, None)  # the next run starts afresh
    assert run_times(waiting) == (NOW, NOW + timedelta(minutes=2))
    for column, value in (("starttime", "2026-11-25T08:30:00Z"), ("endtime", "2026-11-25T08:32:00Z")):
        assert views.entity(waiting)[column] == value
    job = systemjobs.entity(waiting)
    assert (job["startedon"], job["completedon"], job["executiontimespan"]) == (
        "2026-11-25T08:30:00Z", "2026-11-25T08:32:00Z", 120.0)
    second = waiting.with_changes(status=Status.IN_PROGRESS, starttime=NOW + timedelta(hours=1))
    assert run_times(second) == (NOW + timedelta(hours=1), None)  # running again: its own start, no end yet
    assert run_times(_running("", None)) == (NOW, None)
