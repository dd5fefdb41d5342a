"""Answers held for an operation to finish (shared/api/waiting.py, shared/services/finishes.py), on the in-memory
stores: the write that finishes the row wakes the held answer at once, with one read; without it the row is read
no more often than BGOPS_WAIT_POLL_SECONDS allows; the watch ends whatever ends the wait."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import azure.functions as func
import pytest

from shared.api import waiting
from shared.domain.errors import StorageUnavailable
from shared.domain.states import Event, Status
from shared.services import rows
from shared.services.submission import Submission, submit

BASE_URL = "http://127.0.0.1:7071"


@pytest.fixture
def svc(make_svc):
    return make_svc(wait_poll_seconds=30.0)


def _answer(op, waited: int) -> func.HttpResponse:
    return func.HttpResponse(f"{op.status.name} {waited}", status_code=200 if op.is_terminal else 202)


def _settle(held) -> func.HttpResponse:
    with ThreadPoolExecutor(max_workers=3) as pool:
        async def run() -> func.HttpResponse:
            loop = asyncio.get_running_loop()
            return await waiting.settle(held, lambda h: loop.run_in_executor(pool, waiting.step, h))

        return pool.submit(asyncio.run, run()).result(timeout=60)  # a loop of its own, in a thread of its own


def _counting(svc, held):
    """The held answer, its reads counted."""
    reads: list[str] = []

    def read(operation_id: str):
        reads.append(operation_id)
        return svc.store.get(operation_id)

    return dataclasses.replace(held, read=read), reads


def test_a_finished_operation_or_no_wait_is_answered_at_once(svc):
    op = submit(svc, Submission(name="sample_Echo", inputs={}, base_url=BASE_URL))
    assert waiting.hold(svc, op, 0, _answer).get_body() == b"WAITING_FOR_RESOURCES 0"
    done = svc.store.get(op.id).with_changes(status=Status.SUCCEEDED)
    assert waiting.hold(svc, done, 10, _answer).get_body() == b"SUCCEEDED 10"
    assert svc.finishes.waiting() == 0


def test_the_write_that_finishes_the_row_wakes_the_held_answer_at_once_with_one_read(svc):
    op = submit(svc, Submission(name="sample_Echo", inputs={}, base_url=BASE_URL))
    held, reads = _counting(svc, waiting.hold(svc, op, 60, _answer))
    assert svc.finishes.waiting() == 1

    started = time.monotonic()
    writer = threading.Thread(target=lambda: _write_finished(svc, op.id))
    writer.start()
    response = _settle(held)
    writer.join(10)
    assert response.get_body() == b"SUCCEEDED 60"
    assert time.monotonic() - started < 10  # woken, not polled (the poll is every 30 s)
    assert reads == [op.id] and svc.finishes.waiting() == 0


def _write_finished(svc, operation_id: str) -> None:
    """What the worker writes: the row started, then finished (the second write wakes the waiting answer)."""
    row = svc.store.get(operation_id)
    row = rows.write(svc, row.apply(Event.START, svc.clock()))
    rows.write(svc, row.apply(Event.SUCCEED, svc.clock(), outputs={}))


def test_without_a_wake_the_row_is_read_no_more_often_than_the_setting_allows(make_svc):
    svc = make_svc(wait_poll_seconds=0.1)
    op = submit(svc, Submission(name="sample_Echo", inputs={}, base_url=BASE_URL))
    held, reads = _counting(svc, waiting.hold(svc, op, 1, _answer))
    started = time.monotonic()
    response = _settle(held)
    took = time.monotonic() - started
    assert response.status_code == 202 and response.get_body() == b"WAITING_FOR_RESOURCES 1"
    assert 1 <= took < 5
    assert 2 <= len(reads) <= 1 / 0.1 + 1, reads
    assert svc.finishes.waiting() == 0


def test_a_request_inside_a_batch_is_answered_at_once_with_no_wait_applied(svc):
    op = submit(svc, Submission(name="sample_Echo", inputs={}, base_url=BASE_URL))
    response = waiting.at_once(waiting.hold(svc, op, 60, _answer))
    assert response.get_body() == b"WAITING_FOR_RESOURCES 0" and svc.finishes.waiting() == 0


def test_a_storage_failure_while_held_is_its_answer_and_ends_the_watch(svc):
    op = submit(svc, Submission(name="sample_Echo", inputs={}, base_url=BASE_URL))

    def down(operation_id: str):
        raise StorageUnavailable("Table storage failed to read a row: ServiceRequestError")

    held = dataclasses.replace(waiting.hold(svc, op, 60, _answer), until=time.monotonic())
    response = waiting.step(dataclasses.replace(held, read=down))
    assert response.status_code == 503 and svc.finishes.waiting() == 0


def test_a_wake_for_one_operation_does_not_end_the_wait_for_another(svc):
    one, other = (submit(svc, Submission(name="sample_Echo", inputs={}, base_url=BASE_URL)) for _ in range(2))
    held = waiting.hold(svc, one, 60, _answer)
    svc.finishes.finished(other.id)
    assert not held.finished._set
    svc.finishes.finished(one.id)
    assert held.finished._set
    held.stop()
    assert svc.finishes.waiting() == 0
