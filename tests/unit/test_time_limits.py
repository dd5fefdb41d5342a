"""Time limits: an attempt past its limit ends as a retryable failure and cannot write after it;
a run inside a request stops at its own limit and says what to do instead. On the in-memory stores (the
handlers' time is real: a limit of half a second)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import delivery, wait_until

from shared.domain.error_codes import TIME_LIMIT_EXCEEDED
from shared.domain.errors import HandlerFailed, ServiceBusy
from shared.domain.states import Event, Status
from shared.operations.registry import OperationDefinition
from shared.services.container import Services
from shared.services.submission import MAX_SYNC_RUNS, Submission, run_now, submit
from shared.services.worker import process_message


@pytest.fixture
def release():
    event = threading.Event()
    yield event
    event.set()  # never leave a handler thread waiting


@pytest.fixture
def svc(make_svc, release) -> Services:
    """Services with 'test_Stuck': it reports progress, then waits for ``release``, ignoring its 0.5 s limit."""
    services = make_svc(retry_base_seconds=30, max_attempts=4)
    late: list[object] = []

    def stuck(inputs, context):
        context.report_progress(10, "started")
        release.wait(30)
        context.report_progress(99, "too late")  # after the attempt ended: must not reach the row
        late.append(context.time_is_up)
        return {"late": True}

    services.registry.register(OperationDefinition(name="test_Stuck", handler=stuck, time_limit_seconds=0.5))
    services.late = late  # type: ignore[attr-defined]
    return services


def test_an_attempt_past_its_limit_fails_retryably_and_the_late_handler_cannot_write(svc, host, release):
    op = submit(svc, Submission(name="test_Stuck", inputs={}, base_url="http://127.0.0.1"))
    message = host.receive()
    process_message(svc, delivery(message))  # returns when the 0.5 s are up, the handler still running

    ended = svc.store.get(op.id)
    assert (ended.status, ended.errorcode, ended.retrycount) == (Status.WAITING_FOR_RESOURCES, TIME_LIMIT_EXCEEDED, 1)
    assert "time limit of 0.5 s" in ended.errormessage
    release.set()
    wait_until(lambda: svc.late, timeout=10, message="the late handler to return")
    after = svc.store.get(op.id)
    assert svc.late == [True]
    assert (after.versionnumber, after.progressmessage, after.outputs) == (ended.versionnumber,
                                                                          ended.progressmessage, None)
    assert host.try_receive() is None  # the retry waits for its backoff (30 s here)


def test_a_run_inside_a_request_stops_at_its_limit_and_says_to_submit_it_instead(svc):
    with pytest.raises(HandlerFailed) as refused:
        run_now(svc, "test_Stuck", {})
    assert refused.value.code == TIME_LIMIT_EXCEEDED
    assert "0.5 s" in refused.value.message and "Prefer: respond-async" in refused.value.message


def test_runs_inside_requests_beyond_the_cap_are_told_to_come_back(svc, release):
    started = threading.Barrier(MAX_SYNC_RUNS + 1)

    def blocking(inputs, context):
        started.wait(10)
        release.wait(10)
        return {}

    svc.registry.register(OperationDefinition(name="test_Block", handler=blocking, time_limit_seconds=20))
    svc.registry.register(OperationDefinition(name="test_Quick", handler=lambda inputs, context: {"ok": 1}))
    with ThreadPoolExecutor(MAX_SYNC_RUNS) as pool:
        running = [pool.submit(run_now, svc, "test_Block", {}) for _ in range(MAX_SYNC_RUNS)]
        started.wait(10)  # all of them hold their place
        with pytest.raises(ServiceBusy, match="respond-async"):
            run_now(svc, "test_Block", {})
        release.set()
        assert [f.result(10) for f in running] == [{}] * MAX_SYNC_RUNS
    assert run_now(svc, "test_Quick", {}) == {"ok": 1}  # their places are free again


def test_a_late_attempt_leaves_alone_the_attempt_that_took_over_from_it(svc, host):
    """The host gave the message to another worker meanwhile (a lease that lapsed while this one was
    frozen): when the late attempt ends, the row is attempt 2's, running. It must stay so."""
    proceed, running = threading.Event(), threading.Event()

    def slow(inputs, context):
        running.set()
        proceed.wait(10)
        return {"late": True}

    svc.registry.register(OperationDefinition(name="test_Slow", handler=slow, time_limit_seconds=30))
    op = submit(svc, Submission(name="test_Slow", inputs={}, base_url="http://127.0.0.1"))
    message = host.receive()
    late = threading.Thread(target=process_message, args=(svc, delivery(message)))
    late.start()
    running.wait(10)
    row = svc.store.get(op.id)  # attempt 2 of the same message starts elsewhere
    taken = svc.store.replace(row.apply(Event.START, row.modifiedon, messageid=message.id, retrycount=1))
    proceed.set()
    late.join(20)
    after = svc.store.get(op.id)
    assert (after.status, after.retrycount, after.versionnumber) == (Status.IN_PROGRESS, 1, taken.versionnumber)
