"""Recurring jobs and the purge's system job, on the in-memory stores and a fake clock: the message the
worker sends for the next run stays hidden until then, and the host takes it once the clock gets there.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from fakes import START
from helpers import delivery

from shared.domain.callers import EVERYONE
from shared.domain.errors import InvalidRequest, StorageUnavailable, UnknownOperation
from shared.domain.states import Event, Status
from shared.operations.maintenance import PURGE
from shared.services.container import Services
from shared.services.control import Change, cancel, change
from shared.services.maintenance import PURGE_JOB_ID, next_purge, purge_as_system_job, show_purge_job
from shared.services.submission import Submission, submit
from shared.services.worker import process_message
from shared.storage.work_messages import decode

BASE_URL = "http://127.0.0.1:7071"


@pytest.fixture
def svc(make_svc) -> Services:
    return make_svc(purge_schedule="0 */5 * * * *")


def _at(svc: Services, ahead: timedelta) -> Services:
    """The services once the clock is ``ahead`` of when the test began."""
    svc.clock.now = START + ahead  # type: ignore[attr-defined]
    return svc


def _recurring(svc, pattern="FREQ=MINUTELY;COUNT=3", **options):
    return submit(svc, Submission(name="sample_Echo", inputs={"A": 1}, base_url=BASE_URL,
                                  recurrence_pattern=pattern, **options))


def _run_next(svc, host, op_id) -> None:
    """Take the operation's next message, visible now, and run it as the host would (then delete it)."""
    message = host.receive(timeout=0)
    assert decode(message.content).operation_id == op_id
    process_message(svc, delivery(message))
    host.delete(message)


def test_a_recurring_job_runs_three_times_then_ends_keeping_each_run(svc, host):
    op = _recurring(svc)
    _run_next(svc, host, op.id)
    first = svc.store.get(op.id)
    assert (first.status, first.postponeuntil) == (Status.WAITING, op.recurrencestarttime + timedelta(minutes=1))
    assert host.try_receive() is None and host.count() == 1  # the next run's message, hidden until then
    for minute in (1, 2):
        _run_next(_at(svc, timedelta(minutes=minute, seconds=1)), host, op.id)  # its message shows then
    done = svc.store.get(op.id)
    runs = json.loads(done.recentruns)
    assert done.status is Status.SUCCEEDED and [r["outcome"] for r in runs] == ["Succeeded"] * 3
    starts = [datetime.fromisoformat(r["startedon"]) for r in runs]
    assert starts[1] - starts[0] >= timedelta(minutes=1) and starts[2] - starts[1] >= timedelta(minutes=1)
    print("\n" + "\n".join(f"run {i + 1}: {r['startedon']} -> {r['completedon']} {r['outcome']}"
                           for i, r in enumerate(runs)))


def test_without_a_start_time_the_first_run_is_at_submission_and_byhour_is_on_the_hour(svc, host):
    op = _recurring(svc, "FREQ=DAILY;BYHOUR=2;COUNT=2")
    assert op.status is Status.WAITING_FOR_RESOURCES and op.postponeuntil is None
    _run_next(svc, host, op.id)  # visible at once: the submission is the first occurrence
    after_first = svc.store.get(op.id)
    tomorrow = (START + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
    assert (after_first.status, after_first.postponeuntil) == (Status.WAITING, tomorrow)
    _run_next(_at(svc, tomorrow - START + timedelta(seconds=1)), host, op.id)
    assert svc.store.get(op.id).status is Status.SUCCEEDED  # COUNT=2 counted the submission's run


def test_a_job_whose_first_occurrence_is_later_waits_for_it(svc, host):
    start = svc.clock() + timedelta(hours=2)
    op = _recurring(svc, "FREQ=DAILY", recurrence_start=start)
    assert (op.status, op.postponeuntil) == (Status.WAITING, start.replace(microsecond=0))
    assert host.try_receive() is None and host.count() == 1


def test_cancel_ends_the_series_and_its_waiting_message_finds_nothing_to_do(svc, host):
    op = _recurring(svc, "FREQ=HOURLY")
    _run_next(svc, host, op.id)
    assert cancel(svc, op.id, EVERYONE).status is Status.CANCELED
    _run_next(_at(svc, timedelta(hours=1, seconds=1)), host, op.id)
    assert svc.store.get(op.id).status is Status.CANCELED and len(json.loads(svc.store.get(op.id).recentruns)) == 1


def test_the_ttl_of_a_recurring_job_counts_from_its_last_run(svc, host):
    op = _recurring(svc, "FREQ=MINUTELY;COUNT=2", ttl_seconds=60)
    _run_next(svc, host, op.id)
    _run_next(_at(svc, timedelta(minutes=3)), host, op.id)  # the second run ends three minutes on
    done = svc.store.get(op.id)
    assert done.status is Status.SUCCEEDED
    not_yet = {row.operation_id for row in svc.store.list_expired(op.createdon + timedelta(seconds=90))}
    assert op.id not in not_yet  # created + 60 s has passed; its last run + 60 s has not
    expired = {row.operation_id for row in svc.store.list_expired(done.endtime + timedelta(seconds=61))}
    assert op.id in expired


@pytest.mark.parametrize(("options", "says"), [
    ({"recurrence_pattern": "FREQ=YEARLY"}, "FREQ, one of"),
    ({"recurrence_pattern": "FREQ=DAILY", "recurrence_start": START - timedelta(hours=1)}, "past"),
    ({"recurrence_pattern": "FREQ=DAILY", "postpone_until": START + timedelta(hours=1)}, "PostponeUntil"),
])
def test_a_bad_recurrence_is_refused_and_writes_nothing(svc, host, options, says):
    with pytest.raises(InvalidRequest, match=says):
        submit(svc, Submission(name="sample_Echo", inputs={}, base_url=BASE_URL, **options))
    assert host.count() == 0


def test_the_purge_is_one_recurring_system_job_showing_its_runs_and_what_it_deleted(svc):
    expired = submit(svc, Submission(name="sample_Echo", inputs={}, base_url=BASE_URL, ttl_seconds=1))
    svc.store.replace(svc.store.get(expired.id).with_changes(status=Status.SUCCEEDED, endtime=svc.clock()))
    later = _at(svc, timedelta(seconds=5))
    assert purge_as_system_job(later) == 1
    assert purge_as_system_job(later) == 0
    job = svc.store.get(PURGE_JOB_ID)
    runs = json.loads(job.recentruns)
    assert (job.name, job.status, job.outputs) == (PURGE, Status.WAITING, {"Deleted": 0})
    assert [r["outcome"] for r in runs] == ["Succeeded", "Succeeded"]
    assert job.postponeuntil == next_purge("0 */5 * * * *", job.modifiedon)
    assert job.postponeuntil.minute % 5 == 0 and job.postponeuntil > job.modifiedon
    for event, asked in ((Event.CANCEL, "Locked/Canceling (2/22)"), (Event.PAUSE, "Locked/Pausing (2/21)"),
                         (Event.RESUME, "Ready/Waiting For Resources (0/0)")):
        with pytest.raises(InvalidRequest, match="system job") as refused:
            change(svc, PURGE_JOB_ID, Change(event), EVERYONE)
        assert f"(to {asked}) while it is Suspended/Waiting (1/10)" in str(refused.value)
    with pytest.raises(UnknownOperation):
        submit(svc, Submission(name=PURGE, inputs={}, base_url=BASE_URL))


def test_the_purge_job_is_made_already_running_its_first_run(svc, monkeypatch):
    """Nobody ever sees it Suspended/Waiting with no next run: it is inserted In Progress, and waits only
    once its run is recorded: a reader between two writes would see it so."""
    import shared.services.maintenance as maintenance

    inserted, seen, create = [], [], svc.store.create
    monkeypatch.setattr(svc.store, "create", lambda op: inserted.append(op.status) or create(op))
    monkeypatch.setattr(maintenance, "purge_expired", lambda s: seen.append(s.store.get(PURGE_JOB_ID)) or 0)
    purge_as_system_job(svc)
    assert inserted == [Status.IN_PROGRESS] and seen[0].status is Status.IN_PROGRESS
    after = svc.store.get(PURGE_JOB_ID)
    assert after.status is Status.WAITING and after.postponeuntil is not None and after.outputs == {"Deleted": 0}


def test_the_purge_job_is_shown_waiting_for_its_next_run_when_the_app_starts(svc):
    show_purge_job(svc)
    job = svc.store.get(PURGE_JOB_ID)
    assert (job.name, job.status, job.postponeuntil) == (PURGE, Status.WAITING, next_purge("0 */5 * * * *", START))
    assert not job.recentruns and job.starttime is None
    show_purge_job(svc)  # another instance starting: nothing to change
    assert svc.store.get(PURGE_JOB_ID).etag == job.etag
    purge_as_system_job(_at(svc, timedelta(minutes=5)))  # its first run takes the row as it is
    assert len(json.loads(svc.store.get(PURGE_JOB_ID).recentruns)) == 1


def test_a_restart_after_the_next_run_went_by_shows_the_one_to_come(make_svc, clock):
    show_purge_job(make_svc(purge_schedule="0 */5 * * * *"))
    clock.now = START + timedelta(hours=1, minutes=2)  # started again an hour on, with an hourly schedule
    later = make_svc(purge_schedule="0 0 * * * *")
    show_purge_job(later)
    assert later.store.get(PURGE_JOB_ID).postponeuntil == (START + timedelta(hours=2)).replace(minute=0, second=0)


def test_the_purge_job_not_shown_for_storage_down_leaves_the_app_starting(svc, monkeypatch):
    def down(_):
        raise StorageUnavailable("storage is down")

    monkeypatch.setattr(svc.store, "get", down)
    show_purge_job(svc)  # logs, does not raise
