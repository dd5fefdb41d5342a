"""Steering operations when the queue is down: a resume is undone, a cancel's callback still goes out.

The table is a real Azurite; the queue is a real client pointed at a port nobody
listens on, so every queue call fails the way an outage does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from helpers import queue_down

from shared.bootstrap import build_services
from shared.domain.callers import EVERYONE
from shared.domain.errors import InvalidRequest, StorageUnavailable
from shared.domain.operation import CallbackState
from shared.domain.states import Event, Status
from shared.operations.registry import OperationDefinition
from shared.services.control import Change, cancel, change
from shared.services.submission import Submission, submit
from shared.settings import Settings

BASE_URL = "http://127.0.0.1:7071"


def submitted(svc, **options):
    return submit(svc, Submission(name="sample_Echo", inputs={}, base_url=BASE_URL, **options))


@pytest.fixture
def svc(storage_settings, unique_name):
    settings = Settings(storage=storage_settings, queue_name=unique_name("ctl"), table_name=unique_name("ctl"),
                        enable_samples=True, allow_http_callbacks=True, callback_retry_base_seconds=0.05)
    return build_services(settings)


def test_resume_that_cannot_queue_its_message_is_undone_and_reported(svc):
    later = datetime.now(UTC) + timedelta(hours=1)
    op = submitted(svc, postpone_until=later)
    with pytest.raises(StorageUnavailable):
        change(queue_down(svc), op.id, Change(Event.RESUME), EVERYONE)
    row = svc.store.get(op.id)
    assert row.status is Status.WAITING
    assert abs(row.postponeuntil - later) < timedelta(milliseconds=1)


def test_cancel_that_cannot_queue_its_callback_delivers_it_in_the_request(svc, callbacks):
    later = datetime.now(UTC) + timedelta(hours=1)
    url = callbacks.new_url()
    op = submitted(svc, postpone_until=later, callback_url=url)
    canceled = cancel(queue_down(svc), op.id, EVERYONE)
    assert canceled.status is Status.CANCELED
    calls = callbacks.calls(url)
    assert [c["body"]["backgroundOperationStatusCode"] for c in calls] == [32]
    assert calls[0]["body"]["location"] == f"{BASE_URL}/api/backgroundoperation/{op.id}"
    assert svc.store.get(op.id).callbackstate is CallbackState.DELIVERED


def test_callers_may_not_cancel_pause_or_resume_a_system_job_but_may_postpone_it(svc):
    """Seed 003: jobs that callers may not cancel, pause or resume; the request is refused, naming why."""
    svc.registry.register(OperationDefinition(name="test_Maintenance", handler=lambda inputs, context: {},
                                              system_job=True))
    op = submit(svc, Submission(name="test_Maintenance", inputs={}, base_url=BASE_URL))
    for event in (Event.CANCEL, Event.PAUSE, Event.RESUME):
        with pytest.raises(InvalidRequest, match="'test_Maintenance' is a system job"):
            change(svc, op.id, Change(event), EVERYONE)
    assert svc.store.get(op.id).versionnumber == op.versionnumber  # nothing written
    later = datetime.now(UTC) + timedelta(hours=1)
    assert change(svc, op.id, Change(Event.POSTPONE, postpone_until=later), EVERYONE).status is Status.WAITING
