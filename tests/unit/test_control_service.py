"""Steering operations when the queue is down (``DownQueue``, on the in-memory stores): a resume is undone,
a cancel's callback still goes out; and what callers may not do to a system job. That the Azure adapter reports
an outage as StorageUnavailable is tested on Azurite (tests/integration/test_storage_failures.py)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from fakes import DownQueue

from shared.domain.callers import EVERYONE
from shared.domain.errors import InvalidRequest, StorageUnavailable
from shared.domain.operation import CallbackState
from shared.domain.states import Event, Status
from shared.operations.registry import OperationDefinition
from shared.services.control import Change, cancel, change
from shared.services.submission import Submission, submit

BASE_URL = "http://127.0.0.1:7071"


def submitted(svc, **options):
    return submit(svc, Submission(name="sample_Echo", inputs={}, base_url=BASE_URL, **options))


@pytest.fixture
def svc(make_svc):
    return make_svc(callback_retry_base_seconds=0.05)


def queue_down(svc):
    return dataclasses.replace(svc, queue=DownQueue())


def test_resume_that_cannot_queue_its_message_is_undone_and_reported(svc):
    later = svc.clock() + timedelta(hours=1)
    op = submitted(svc, postpone_until=later)
    with pytest.raises(StorageUnavailable):
        change(queue_down(svc), op.id, Change(Event.RESUME), EVERYONE)
    row = svc.store.get(op.id)
    assert row.status is Status.WAITING
    assert abs(row.postponeuntil - later) < timedelta(milliseconds=1)


def test_cancel_that_cannot_queue_its_callback_delivers_it_in_the_request(svc, callbacks):
    later = svc.clock() + timedelta(hours=1)
    url = callbacks.new_url()
    op = submitted(svc, postpone_until=later, callback_url=url)
    canceled = cancel(queue_down(svc), op.id, EVERYONE)
    assert canceled.status is Status.CANCELED
    calls = callbacks.calls(url)
    assert [c["body"]["backgroundOperationStatusCode"] for c in calls] == [32]
    assert calls[0]["body"]["location"] == f"{BASE_URL}/api/backgroundoperation/{op.id}"
    assert svc.store.get(op.id).callbackstate is CallbackState.DELIVERED


def test_callers_may_not_cancel_pause_or_resume_a_system_job_but_may_postpone_it(svc):
    """Jobs that callers may not cancel, pause or resume: the request is refused, naming why."""
    svc.registry.register(OperationDefinition(name="test_Maintenance", handler=lambda inputs, context: {},
                                              system_job=True))
    op = submit(svc, Submission(name="test_Maintenance", inputs={}, base_url=BASE_URL))
    for event in (Event.CANCEL, Event.PAUSE, Event.RESUME):
        with pytest.raises(InvalidRequest, match=r"'test_Maintenance' .* while it is Ready/Waiting For Resources "
                                                 r"\(0/0\): it is a system job"):
            change(svc, op.id, Change(event), EVERYONE)
    assert svc.store.get(op.id).versionnumber == op.versionnumber  # nothing written
    later = svc.clock() + timedelta(hours=1)
    assert change(svc, op.id, Change(Event.POSTPONE, postpone_until=later), EVERYONE).status is Status.WAITING
