"""Throughput at a glance: the windows, and finishes counted into their intervals (domain.throughput), and the
service reading them for one caller from the store's finish markers (in memory, on a fake clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.callers import EVERYONE, Caller
from shared.domain.errors import InvalidRequest
from shared.domain.states import Status
from shared.domain.throughput import Finish, count, first_start, window_named
from shared.services.control import cancel
from shared.services.submission import Submission, submit
from shared.services.throughput import throughput

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_an_hour_is_sixty_minutes_ending_with_the_one_now_and_a_day_forty_eight_half_hours():
    hour, day = window_named(None), window_named("day")
    assert (hour.name, hour.count, first_start(hour, NOW)) == ("hour", 60, datetime(2030, 1, 2, 2, 5, tzinfo=UTC))
    assert (day.count, first_start(day, NOW)) == (48, datetime(2030, 1, 1, 3, 30, tzinfo=UTC))


@pytest.mark.parametrize("name", ["year", "P365D", "", "HOUR"])
def test_any_other_window_is_refused_saying_a_chart_covers_at_most_a_day(name):
    if name == "":
        assert window_named(name).name == "hour"  # given empty: as if not given
        return
    with pytest.raises(InvalidRequest, match="at most a day"):
        window_named(name)


def test_finishes_fall_in_their_interval_by_outcome_and_those_outside_the_window_are_left_out():
    finishes = [Finish(NOW, "a", Status.SUCCEEDED), Finish(NOW - timedelta(seconds=5), "a", Status.FAILED),
                Finish(NOW - timedelta(minutes=59), "a", Status.CANCELED),
                Finish(NOW - timedelta(minutes=61), "a", Status.SUCCEEDED),  # before the window
                Finish(NOW + timedelta(minutes=2), "a", Status.SUCCEEDED)]  # a clock ahead: after it
    intervals = count(finishes, window_named("hour"), NOW)
    assert intervals[-1].counts == {Status.SUCCEEDED: 1, Status.FAILED: 1, Status.CANCELED: 0}
    assert intervals[0].counts[Status.CANCELED] == 1
    assert sum(sum(i.counts.values()) for i in intervals) == 3


def test_the_service_counts_only_what_the_caller_may_see_and_of_the_name_asked(make_svc, clock):
    svc = make_svc()
    for runas, name in (("alice", "sample_Echo"), ("alice", "sample_Repeat"), ("bob", "sample_Echo")):
        op = submit(svc, Submission(name=name, inputs={}, base_url="http://x", runas=runas))
        clock.now += timedelta(seconds=20)  # past the window in which a worker may run it unrecorded
        assert cancel(svc, op.id, EVERYONE).status is Status.CANCELED  # before it ran: finished now

    def total(caller, name=None):
        return sum(i.counts[Status.CANCELED] for i in throughput(svc, caller, "hour", name)[1])

    alice = Caller("alice", admin=False)
    assert (total(EVERYONE), total(alice), total(alice, "sample_Echo"), total(EVERYONE, "sample_Echo")) == (3, 2, 1, 2)
