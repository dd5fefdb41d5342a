"""The worker (``process_message``, ``fail_poisoned``) on the in-memory stores and a fake clock: messages
taken as the Functions host takes them (``MemoryHost``: pop receipts, dequeue counts, a message hidden until
its delay is over), callbacks to a real HTTP server on 127.0.0.1. What it costs in storage requests is
measured on Azurite (tests/integration/test_worker_service.py)."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import timedelta

import pytest
from fakes import MemoryHost
from helpers import delivery, wait_until

from shared.domain.attempts import CANCEL_UNSURE_WINDOW, UNRECORDED_WINDOW
from shared.domain.callers import EVERYONE
from shared.domain.error_codes import UNEXPECTED
from shared.domain.errors import NonRetryableError, OperationNotFound, PerhapsWritten
from shared.domain.ids import new_operation_id
from shared.domain.operation import CallbackState, Operation
from shared.domain.states import Event, Status
from shared.operations.samples import DEFAULT_ERROR_CODE
from shared.services.container import Services
from shared.services.control import Change, cancel, change
from shared.services.events import notify
from shared.services.submission import Submission, submit
from shared.services.worker import QueueDelivery, fail_poisoned, process_message
from shared.storage.work_messages import decode

BASE_URL = "http://127.0.0.1:7071"


@pytest.fixture
def svc(make_svc) -> Services:
    return make_svc(retry_base_seconds=1, callback_retry_base_seconds=0.05, max_attempts=4)


def submitted(svc: Services, name: str = "sample_Echo", inputs: dict | None = None, callback_url: str | None = None,
              **options) -> Operation:
    return submit(svc, Submission(name=name, inputs={} if inputs is None else inputs, base_url=BASE_URL,
                                  callback_url=callback_url, **options))


def lock_as(svc: Services, operation_id: str, message) -> Operation:
    """What a worker writes when it starts an attempt for ``message`` (and then, here, dies)."""
    op = svc.store.get(operation_id)
    now = svc.clock()
    return svc.store.replace(op.apply(Event.START, now, messageid=message.id, starttime=now,
                                      retrycount=message.dequeue_count - 1))


def location(op_id: str) -> str:
    return f"{BASE_URL}/api/backgroundoperation/{op_id}"


def test_happy_path_runs_ready_to_succeeded_with_outputs_and_calls_back_exactly_once(svc, host, callbacks):
    url = callbacks.new_url()
    inputs = {"Text": "héllo", "Count": 3, "Items": [1, {"a": None}]}
    op = submitted(svc, inputs=inputs, callback_url=url)
    assert svc.store.get(op.id).status is Status.WAITING_FOR_RESOURCES

    message = host.receive()
    process_message(svc, delivery(message))

    done = svc.store.get(op.id)
    assert done.status is Status.SUCCEEDED
    assert done.outputs == inputs
    assert done.retrycount == 0 and done.errorcode is None and done.errormessage is None
    assert done.starttime and done.endtime and done.starttime <= done.endtime
    assert done.messageid == message.id
    assert done.callbackstate is CallbackState.DELIVERED and done.callbackresult.startswith("200")
    assert callbacks.calls(url) == [{"status": 200, "content_type": "application/json", "host": url.split("/")[2],
                                     "body": {
        "location": location(op.id), "backgroundOperationId": op.id,
        "backgroundOperationStateCode": 3, "backgroundOperationStatusCode": 30}}]

    # The same message delivered again (the host's delete was lost): nothing runs, nothing is written.
    process_message(svc, dataclasses.replace(delivery(message), dequeue_count=2))
    assert svc.store.get(op.id).etag == done.etag
    assert len(callbacks.calls(url)) == 1


def test_failed_attempt_goes_back_to_ready_keeps_the_error_and_delays_the_message(make_svc, host, clock):
    svc = make_svc(retry_base_seconds=2)
    op = submitted(svc, "sample_Fail", {"FailTimes": 1})
    message = host.receive(visibility_timeout=1)  # the receive alone would hide it for 1 s

    received_at = clock.seconds()
    process_message(svc, delivery(message))

    ready = svc.store.get(op.id)
    assert ready.status is Status.WAITING_FOR_RESOURCES
    assert ready.retrycount == 1
    assert ready.errorcode == DEFAULT_ERROR_CODE and "attempt 1" in ready.errormessage
    assert host.try_receive() is None
    back = host.receive(timeout=15)  # backoff: 2 s × 2^0, ±20 %
    assert clock.seconds() - received_at >= 1.6, "the message was not hidden for the backoff"
    assert (back.id, back.dequeue_count) == (message.id, 2)

    process_message(svc, delivery(back))
    done = svc.store.get(op.id)
    assert done.status is Status.SUCCEEDED and done.outputs == {"Attempts": 2}
    assert done.retrycount == 1


def test_failure_on_the_last_attempt_fails_the_operation_and_calls_back_with_the_error(svc, host, callbacks):
    url = callbacks.new_url()
    op = submitted(svc, "sample_Fail", {"FailTimes": 10}, callback_url=url)
    message = host.receive()
    last = dataclasses.replace(delivery(message), dequeue_count=svc.settings.max_attempts)

    process_message(svc, last)

    failed = svc.store.get(op.id)
    assert failed.status is Status.FAILED
    assert failed.retrycount == svc.settings.max_attempts - 1
    assert failed.errorcode == DEFAULT_ERROR_CODE and "attempt 4" in failed.errormessage
    [call] = callbacks.calls(url)
    assert call["body"] == {"location": location(op.id), "backgroundOperationId": op.id,
                            "backgroundOperationStateCode": 3, "backgroundOperationStatusCode": 31,
                            "backgroundOperationErrorCode": DEFAULT_ERROR_CODE,
                            "backgroundOperationErrorMessage": failed.errormessage}
    host.delete(message)  # untouched: the host's delete succeeds


def test_non_retryable_error_fails_the_operation_on_the_first_attempt(svc, host):
    op = submitted(svc, "sample_Fail", {"NonRetryable": True, "ErrorCode": -2147220000})
    message = host.receive()

    process_message(svc, delivery(message))

    failed = svc.store.get(op.id)
    assert failed.status is Status.FAILED
    assert failed.retrycount == 0
    assert failed.errorcode == -2147220000 and "for good" in failed.errormessage
    host.delete(message)  # not delayed for a retry


def test_error_code_written_unsigned_is_recorded_and_the_operation_fails(svc, host):
    op = submitted(svc, "sample_Fail", {"NonRetryable": True, "ErrorCode": 0x80040265})
    message = host.receive()

    process_message(svc, delivery(message))

    failed = svc.store.get(op.id)
    assert failed.status is Status.FAILED
    assert failed.errorcode % 2**32 == 0x80040265


def test_duplicate_message_for_a_row_locked_by_another_message_is_dropped_without_writes(svc, host):
    release = _blocking(svc, asks=True)
    op = submitted(svc, "test_Block")
    svc.queue.enqueue(op.id)  # an at-least-once duplicate
    first, duplicate = host.receive(), host.receive()

    running = threading.Thread(target=process_message, args=(svc, delivery(first)))
    running.start()
    try:
        def locked_row():
            row = svc.store.get(op.id)
            return row if row.status is Status.IN_PROGRESS else None

        locked = wait_until(locked_row, timeout=10, interval=0.02, message="the first message to lock the row")
        assert locked.messageid == first.id

        process_message(svc, delivery(duplicate))

        after = svc.store.get(op.id)
        assert after.etag == locked.etag and after.status is Status.IN_PROGRESS
    finally:
        release.set()
        running.join(30)
    assert svc.store.get(op.id).status is Status.SUCCEEDED
    assert host.count() == 2  # nothing new was queued


def test_message_coming_back_for_the_row_it_locked_recovers_the_attempt_and_runs_it(svc, host):
    op = submitted(svc, inputs={"A": 1})
    message = host.receive(visibility_timeout=1)
    lock_as(svc, op.id, message)  # ... and the worker dies: the host's lease ends and the message comes back

    back = host.receive(timeout=15)
    assert (back.id, back.dequeue_count) == (message.id, 2)
    process_message(svc, delivery(back))

    done = svc.store.get(op.id)
    assert done.status is Status.SUCCEEDED and done.outputs == {"A": 1}
    assert done.retrycount == 1 and done.messageid == message.id


def test_a_huge_error_message_is_cut_so_the_failure_is_still_recorded(svc, host):
    def shout(inputs, context):
        raise NonRetryableError("x" * 100_000, code=7)

    svc.registry.operation("test_Shout")(shout)
    op = submitted(svc, name="test_Shout")
    process_message(svc, delivery(host.receive()))
    done = svc.store.get(op.id)
    assert done.status is Status.FAILED and done.errorcode == 7
    assert done.errormessage == "x" * 2000


def test_an_unexpected_exception_keeps_its_last_frames_on_the_attempt_masking_any_url_query(svc, host, clock):
    def broken(inputs, context):
        raise ConnectionError("POST https://erp.example.com/in?sig=SAS-SECRET failed")

    svc.registry.operation("test_Broken")(broken)
    op = submitted(svc, name="test_Broken")
    process_message(svc, delivery(host.receive()))
    row = svc.store.get(op.id)
    [attempt] = json.loads(row.attempts)
    assert (row.status, attempt["attempt"], attempt["outcome"]) == (Status.WAITING_FOR_RESOURCES, 1, "Failed")
    assert "in broken" in attempt["traceback"] and attempt["traceback"].endswith(
        "ConnectionError: POST https://erp.example.com/in?*** failed\n")
    assert "SAS-SECRET" not in row.attempts and "SAS-SECRET" not in row.errormessage  # nor on the row's error


@pytest.mark.parametrize("body", ["missing", "not-a-guid", "{\"id\": 1}", "3f2504e0-4f89-41d3-9a0c"])
def test_message_for_a_missing_operation_or_with_a_malformed_body_is_dropped(svc, host, clock, body):
    if body == "missing":
        body = new_operation_id(clock() + timedelta(days=1))
    svc.queue.put(body)
    message = host.receive()
    assert message.content == body

    process_message(svc, delivery(message))  # no exception

    if body.count("-") == 4 and len(body) == 36:
        with pytest.raises(OperationNotFound):
            svc.store.get(body)  # nothing was created
    assert host.count() == 1  # nothing was queued


def test_finished_operation_with_a_pending_callback_is_called_back_once_when_two_deliveries_race(
        svc, host, callbacks, clock):
    url = callbacks.new_url()
    op = submitted(svc, callback_url=url)
    clock.pass_(CANCEL_UNSURE_WINDOW.total_seconds())  # no worker can be running it unrecorded any more
    canceled = cancel(svc, op.id, EVERYONE)  # not started: Canceled at once, callback owed, a message queued for it
    assert canceled.status is Status.CANCELED and canceled.callbackstate is CallbackState.PENDING
    deliveries = [delivery(host.receive()), delivery(host.receive())]

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def deliver(d: QueueDelivery) -> None:
        barrier.wait()
        try:
            process_message(svc, d)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=deliver, args=(d,)) for d in deliveries]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert errors == []
    assert [c["body"]["backgroundOperationStatusCode"] for c in callbacks.calls(url)] == [32]
    done = svc.store.get(op.id)
    assert done.status is Status.CANCELED and done.callbackstate is CallbackState.DELIVERED


def test_callback_claimed_by_a_worker_that_died_is_delivered_by_a_later_message_only_after_the_claim_timeout(
        svc, host, callbacks, clock):
    url = callbacks.new_url()
    op = submitted(svc, callback_url=url)
    clock.pass_(CANCEL_UNSURE_WINDOW.total_seconds())
    cancel(svc, op.id, EVERYONE)  # Canceled; its callback is owed and a message queued for it
    row = svc.store.get(op.id)
    claimed = svc.store.replace(row.with_changes(callbackstate=CallbackState.SENDING, callbackclaimedon=clock()))
    message = host.receive()  # ... the worker that claimed it died before posting

    process_message(svc, delivery(message))
    assert callbacks.calls(url) == [] and svc.store.get(op.id).etag == claimed.etag  # the claim is still fresh

    clock.pass_(6 * 60)
    process_message(svc, dataclasses.replace(delivery(message), dequeue_count=2))
    assert [c["body"]["backgroundOperationStatusCode"] for c in callbacks.calls(url)] == [32]
    assert svc.store.get(op.id).callbackstate is CallbackState.DELIVERED


def _notified(svc: Services, events: MemoryHost, done) -> None:
    """Run the notify function on each events-queue message, as the host would, until ``done()``."""
    for _ in range(20):
        if done():
            return
        message = events.receive(timeout=3600)
        notify(svc, message.content)
        events.delete(message)
    raise AssertionError("the notify function did not get there in 20 messages")


def test_a_callback_answered_503_then_429_is_tried_once_by_the_worker_then_by_notify_until_delivered(
        svc, host, callbacks, events_host):
    url = callbacks.new_url(answers=(503, 429, 200))
    op = submitted(svc, callback_url=url)
    process_message(svc, delivery(host.receive()))
    assert len(callbacks.calls(url)) == 1  # the worker's one attempt: the rest never hold its thread
    assert svc.store.get(op.id).callbackstate is CallbackState.SENDING

    _notified(svc, events_host, lambda: svc.store.get(op.id).callbackstate is CallbackState.DELIVERED)
    calls = callbacks.calls(url)
    assert len(calls) == 3 and all(c["body"] == calls[0]["body"] for c in calls)
    done = svc.store.get(op.id)
    assert done.status is Status.SUCCEEDED and done.callbackresult == "200 after 3 attempt(s)"


def test_a_callback_that_keeps_failing_is_recorded_failed_after_its_fourth_attempt(svc, host, callbacks,
                                                                                 events_host):
    url = callbacks.new_url(answers=(500, 500, 500, 500, 200))
    op = submitted(svc, callback_url=url)
    process_message(svc, delivery(host.receive()))
    _notified(svc, events_host, lambda: svc.store.get(op.id).callbackstate is CallbackState.FAILED)
    assert len(callbacks.calls(url)) == 4 and svc.store.get(op.id).callbackresult == "500 after 4 attempt(s)"


def test_callback_refused_with_400_is_not_retried_is_recorded_as_failed_and_leaves_the_state(svc, host, callbacks):
    url = callbacks.new_url(answers=(400,))
    op = submitted(svc, callback_url=url)
    process_message(svc, delivery(host.receive()))

    assert len(callbacks.calls(url)) == 1
    done = svc.store.get(op.id)
    assert done.status is Status.SUCCEEDED
    assert done.callbackstate is CallbackState.FAILED and done.callbackresult.startswith("400")


def test_poisoned_message_of_a_locked_operation_fails_it_saying_so_and_calls_back(svc, host, callbacks):
    url = callbacks.new_url()
    op = submitted(svc, callback_url=url)
    lock_as(svc, op.id, host.receive())  # the last attempt's worker died; the host moved the message on

    fail_poisoned(svc, op.id)  # the poison queue's copy of its message

    failed = svc.store.get(op.id)
    assert failed.status is Status.FAILED
    assert failed.errorcode == UNEXPECTED and "poison queue" in failed.errormessage
    assert failed.callbackstate is CallbackState.DELIVERED
    [call] = callbacks.calls(url)
    assert call["body"]["backgroundOperationStatusCode"] == 31
    assert call["body"]["backgroundOperationErrorMessage"] == failed.errormessage

    fail_poisoned(svc, op.id)  # delivered twice: no second write, no second callback
    assert svc.store.get(op.id).etag == failed.etag
    assert len(callbacks.calls(url)) == 1


def test_message_for_an_operation_postponed_past_it_queues_a_delayed_message_and_leaves_the_row(svc, host, clock):
    postpone_until = clock() + timedelta(seconds=2)
    now = clock()
    op = Operation(id=new_operation_id(now + timedelta(days=1)), name="sample_Echo", displayname="Echo",
                   status=Status.WAITING, inputs={"B": 2}, createdon=now, modifiedon=now, ttlinseconds=86400,
                   postponeuntil=postpone_until, baseurl=BASE_URL)
    suspended = svc.store.create(op)
    svc.queue.enqueue(op.id)  # early: a duplicate, or a message from before the postponement
    early = host.receive()

    process_message(svc, delivery(early))

    assert svc.store.get(op.id).etag == suspended.etag
    assert host.count() == 2  # the early one (the host deletes it) and a new one
    assert host.try_receive() is None  # the new one is hidden until postponeuntil
    deferred = host.receive(timeout=15)
    assert clock() >= postpone_until - timedelta(seconds=1)  # visibility is whole seconds
    assert deferred.id != early.id and deferred.content == op.id

    for _ in range(3):  # postponeuntil has come: resumed and run (or, a hair early, deferred once more)
        process_message(svc, delivery(deferred))
        if svc.store.get(op.id).status is not Status.WAITING:
            break
        deferred = host.receive(timeout=15)
    done = svc.store.get(op.id)
    assert done.status is Status.SUCCEEDED and done.outputs == {"B": 2} and done.postponeuntil is None


# --- Attempts that run before they are recorded: the message carries a young row ---

def _later(svc: Services, seconds: float) -> Services:
    """The services, ``seconds`` from now (the row is that much older)."""
    svc.clock.pass_(seconds)  # type: ignore[attr-defined]
    return svc


def _blocking(svc: Services, name: str = "test_Block", *, asks: bool = False) -> threading.Event:
    """Register an operation that runs until the returned event is set, never asking about a cancel (or
    asking once, first, which records its start, when it ``asks``)."""
    release = threading.Event()

    def block(inputs, context):
        if asks:
            context.raise_if_interrupted()
        return {"Released": release.wait(30)}

    svc.registry.operation(name)(block)
    return release


def _process_in_background(svc: Services, message) -> threading.Thread:
    thread = threading.Thread(target=process_message, args=(svc, delivery(message)), daemon=True)
    thread.start()
    return thread


def test_an_operation_with_a_callback_runs_from_its_message_and_is_called_back(svc, host, callbacks):
    url = callbacks.new_url()
    op = submitted(svc, callback_url=url)
    message = host.receive()
    assert decode(message.content).row.callbackurl == url  # carried, URL and all: no read before it runs
    process_message(svc, delivery(message))
    assert [c["body"]["backgroundOperationStatusCode"] for c in callbacks.calls(url)] == [30]
    done = svc.store.get(op.id)
    assert done.status is Status.SUCCEEDED and done.callbackstate is CallbackState.DELIVERED


def test_a_long_unrecorded_attempt_shows_in_progress_when_its_recording_is_due(svc, host):
    release = _blocking(svc)
    op = submitted(svc, name="test_Block")
    # The row is 4.5 s old when the attempt starts: its start is recorded half a second later.
    thread = _process_in_background(_later(svc, UNRECORDED_WINDOW.total_seconds() - 0.5), host.receive())
    running = wait_until(lambda: (row := svc.store.get(op.id)).status is Status.IN_PROGRESS and row,
                         timeout=10, message="the attempt recorded as In Progress")
    assert running.starttime is not None and running.retrycount == 0 and running.messageid
    release.set()
    thread.join(10)
    assert svc.store.get(op.id).status is Status.SUCCEEDED


def test_cancel_in_the_window_answers_canceling_and_a_handler_that_checks_ends_canceled(svc, host):
    op = submitted(svc, name="sample_Sleep", inputs={"Seconds": 30})  # it asks about a cancel before it sleeps
    asked = cancel(svc, op.id, EVERYONE)
    assert asked.status is Status.CANCELING  # a worker may be running it unrecorded: 2/22, not 3/32
    process_message(svc, delivery(host.receive()))  # the first status check finds the cancel
    done = svc.store.get(op.id)
    assert done.status is Status.CANCELED and done.outputs is None


def test_cancel_in_the_window_of_a_handler_that_never_checks_ends_as_the_work_ended(svc, host):
    op = submitted(svc, inputs={"A": 1})
    assert cancel(svc, op.id, EVERYONE).status is Status.CANCELING
    process_message(svc, delivery(host.receive()))
    done = svc.store.get(op.id)
    assert done.status is Status.SUCCEEDED and done.outputs == {"A": 1}  # the work was done: 3/30, as when running


def test_cancel_in_the_window_stops_an_operation_no_worker_ran_without_running_it(svc, host):
    op = submitted(svc, inputs={"A": 1})
    assert cancel(svc, op.id, EVERYONE).status is Status.CANCELING
    process_message(_later(svc, UNRECORDED_WINDOW.total_seconds() + 1), delivery(host.receive()))
    done = svc.store.get(op.id)
    assert (done.status, done.starttime, done.outputs) == (Status.CANCELED, None, None)


def test_cancel_after_the_window_of_an_operation_that_never_started_ends_it_at_once(svc, host):
    op = submitted(svc, inputs={"A": 1})
    done = cancel(_later(svc, CANCEL_UNSURE_WINDOW.total_seconds() + 1), op.id, EVERYONE)
    assert done.status is Status.CANCELED


def test_a_message_taken_after_the_window_starts_its_row_unread_on_the_etag_it_carries(svc, host, monkeypatch):
    reads: list[str] = []
    read = svc.store.get
    monkeypatch.setattr(svc.store, "get", lambda operation_id: reads.append(operation_id) or read(operation_id))
    release = _blocking(svc)
    op = submitted(svc, name="test_Block")
    thread = _process_in_background(_later(svc, CANCEL_UNSURE_WINDOW.total_seconds() + 1), host.receive())
    # recorded as it starts, as after a read (the window is long past), so that a cancel finds it running
    running = wait_until(lambda: (row := read(op.id)).status is Status.IN_PROGRESS and row, timeout=10,
                         message="the attempt recorded as In Progress")
    assert reads == []  # its start was written on the ETag the message carried
    assert running.messageid and running.starttime is not None
    assert cancel(svc, op.id, EVERYONE).status is Status.CANCELING
    release.set()
    thread.join(10)
    assert read(op.id).status is Status.SUCCEEDED  # it never asked, and its work was done


@pytest.mark.parametrize("steer", ["cancel", "postpone"])
def test_a_row_steered_after_the_window_is_read_by_the_worker_and_never_runs(svc, host, clock, steer):
    op = submitted(svc, inputs={"A": 1})
    _later(svc, CANCEL_UNSURE_WINDOW.total_seconds() + 1)
    if steer == "cancel":
        assert cancel(svc, op.id, EVERYONE).status is Status.CANCELED  # for sure: no worker can be running it
    else:
        change(svc, op.id, Change(Event.POSTPONE, postpone_until=clock() + timedelta(hours=1)), EVERYONE)
    message = host.receive()
    process_message(svc, delivery(message))  # its start, written on the carried ETag, conflicts: it reads
    row = svc.store.get(op.id)
    assert (row.starttime, row.outputs, row.retrycount) == (None, None, 0)
    assert row.status is (Status.CANCELED if steer == "cancel" else Status.WAITING)


def test_postpone_while_an_unrecorded_attempt_runs_drops_its_outcome_and_defers_the_message(svc, host, clock):
    release = _blocking(svc)
    op = submitted(svc, name="test_Block")
    message = host.receive()
    thread = _process_in_background(svc, message)
    until = clock() + timedelta(hours=1)
    postponed = change(svc, op.id, Change(Event.POSTPONE, postpone_until=until), EVERYONE)
    assert postponed.status is Status.WAITING
    release.set()
    thread.join(10)
    host.delete(message)  # as the host does when the function returns
    row = svc.store.get(op.id)
    assert (row.status, row.outputs, row.postponeuntil) == (Status.WAITING, None, until)
    assert host.count() == 1  # a fresh message, hidden until the postponement ends
    assert host.try_receive() is None


def test_an_unrecorded_attempt_whose_worker_died_runs_again_as_attempt_two(svc, host):
    op = submitted(svc, inputs={"A": 1})
    host.receive(visibility_timeout=1)  # received, then its worker died without a write
    again = host.receive(timeout=10)
    assert again.dequeue_count == 2
    process_message(svc, delivery(again))
    done = svc.store.get(op.id)
    assert (done.status, done.retrycount) == (Status.SUCCEEDED, 1)


# --- The backoff holds however long the attempt ran -----------------------------------------


def test_a_retry_keeps_its_backoff_when_the_host_renewed_the_lease_while_the_attempt_ran(make_svc, host, clock):
    svc = make_svc(retry_base_seconds=4)  # a backoff of 3.2 to 4.8 s
    op = submitted(svc, "sample_Fail", {"FailTimes": 1})
    received = host.receive()
    # The host renews the lease of a message whose function runs long (every 5 minutes): a new pop receipt.
    svc.queue.set_visibility(received.id, received.pop_receipt, 30)
    renewed = svc.queue.work[received.id]
    process_message(svc, delivery(received))  # attempt 1 fails; the pop receipt it was given is stale now

    row = svc.store.get(op.id)
    assert (row.status, row.retrycount, row.messageid) == (Status.WAITING_FOR_RESOURCES, 1, "")
    assert svc.queue.delete(received.id, renewed.pop_receipt)  # the host's delete on success, with its receipt
    failed_at = clock.seconds()
    assert host.try_receive() is None  # the retry waits for its backoff...
    retry = host.receive(timeout=20)  # ...then comes, as a new message that counts the attempt before it
    assert 4 <= clock.seconds() - failed_at <= 5  # in whole seconds, as the queue takes a delay
    assert json.loads(retry.content) == {"id": op.id, "attempts": 1} and retry.dequeue_count == 1
    process_message(svc, delivery(retry))
    done = svc.store.get(op.id)
    assert (done.status, done.outputs, done.retrycount) == (Status.SUCCEEDED, {"Attempts": 2}, 1)


def test_a_retry_sent_as_a_new_message_still_stops_at_the_last_attempt(svc, host):
    op = submitted(svc, "sample_Fail", {"FailTimes": 10})
    first = host.receive()
    host.delete(first)
    svc.queue.enqueue(op.id, attempts=svc.settings.max_attempts)  # every attempt already made
    process_message(svc, delivery(host.receive()))
    done = svc.store.get(op.id)
    assert done.status is Status.FAILED and done.errorcode == UNEXPECTED and "4 attempts" in done.errormessage


def test_a_message_that_comes_back_after_its_worker_claimed_the_callback_delivers_it(svc, host, callbacks, clock):
    """The write that ended an operation reached storage but its answer did not, the worker failed, and the
    message came back: it delivers the callback its worker had claimed."""
    url = callbacks.new_url()
    op = submitted(svc, callback_url=url)
    message = host.receive()
    now = clock()
    row = svc.store.get(op.id)
    svc.store.replace(row.apply(Event.START, now, messageid=message.id).conclude(Event.SUCCEED, now, outputs={}))
    process_message(svc, delivery(message))  # the same message, back after its worker failed
    assert len(callbacks.calls(url)) == 1
    assert svc.store.get(op.id).callbackstate is CallbackState.DELIVERED


def test_a_poisoned_message_whose_worker_died_before_calling_back_calls_back_once_the_claim_lapses(
        svc, host, callbacks, clock):
    url = callbacks.new_url()
    op = submitted(svc, callback_url=url)
    message = host.receive()
    now = clock()  # its last attempt ended it and claimed the callback; the host died before the POST
    row = svc.store.get(op.id)
    svc.store.replace(row.apply(Event.START, now, messageid=message.id).conclude(Event.SUCCEED, now, outputs={}))
    host.delete(message)  # (the host moved it to the poison queue)

    fail_poisoned(svc, op.id)
    assert callbacks.calls(url) == []  # the claim is young: its claimant might still be posting
    assert host.count() == 1  # a message for when it lapses

    lapsed = svc.settings.callback_delivery.claim_timeout + timedelta(seconds=2)
    clock.pass_(lapsed.total_seconds())  # that message, once visible
    process_message(svc, QueueDelivery(id="recheck", pop_receipt="-", dequeue_count=1, body=op.id))
    assert [c["body"]["backgroundOperationStatusCode"] for c in callbacks.calls(url)] == [30]
    assert svc.store.get(op.id).callbackstate is CallbackState.DELIVERED


def test_a_poisoned_message_of_an_operation_whose_callback_is_owed_delivers_it_at_once(svc, callbacks):
    url = callbacks.new_url()
    op = submitted(svc, callback_url=url)
    cancel(svc, op.id, EVERYONE)  # Canceled with its callback owed (pending, nobody's claim)
    fail_poisoned(svc, op.id)
    assert [c["body"]["backgroundOperationStatusCode"] for c in callbacks.calls(url)] == [32]



@pytest.mark.parametrize("reached_storage", [True, False])
def test_an_insert_whose_answer_was_lost_is_made_again_and_the_operation_accepted_once(svc, host, monkeypatch,
                                                                                      reached_storage):
    create, tries = svc.store.create, []

    def answer_lost_once(op: Operation) -> Operation:
        tries.append(op.id)
        if len(tries) == 1:
            if reached_storage:
                create(op)
            raise PerhapsWritten("Table storage failed to insert a row: ServiceResponseError")
        return create(op)

    monkeypatch.setattr(svc.store, "create", answer_lost_once)
    op = submitted(svc)
    assert len(tries) == 2 and svc.store.get(op.id).status is Status.WAITING_FOR_RESOURCES
    assert decode(host.receive().content).operation_id == op.id and host.try_receive() is None  # one message
