"""The worker service on real storage: ``process_message`` and ``fail_poisoned`` driven with real messages.

Each test gets its own queue (so no test sees another's messages) and real
pop receipts and dequeue counts from Azurite; the samples are registered;
callbacks go to a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.queue import QueueClient, TextBase64DecodePolicy
from helpers import wait_until, warm_subscription_cache

from shared.domain.error_codes import UNEXPECTED
from shared.domain.errors import NonRetryableError, OperationNotFound
from shared.domain.ids import new_operation_id
from shared.domain.operation import CallbackState, Operation
from shared.domain.states import Event, Status
from shared.operations.samples import DEFAULT_ERROR_CODE
from shared.services.container import Services, build_services
from shared.services.control import cancel
from shared.services.submission import Submission, submit
from shared.services.worker import QueueDelivery, fail_poisoned, process_message
from shared.settings import Settings
from shared.storage.metering import TransactionCounter

BASE_URL = "http://127.0.0.1:7071"


def utc_now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def table_name(unique_name):
    return unique_name("work")


@pytest.fixture
def settings(storage_settings, unique_name, table_name) -> Settings:
    return Settings(storage=storage_settings, queue_name=unique_name("work"), table_name=table_name,
                    enable_samples=True, retry_base_seconds=1, allow_http_callbacks=True,
                    callback_retry_base_seconds=0.05, max_attempts=4)


@pytest.fixture
def svc(settings) -> Services:
    return build_services(settings)


class HostQueue:
    """The work queue as the Functions host sees it: receives with real pop receipts and dequeue counts."""

    def __init__(self, connection_string: str, queue_name: str) -> None:
        self.client = QueueClient.from_connection_string(connection_string, queue_name,
                                                         message_decode_policy=TextBase64DecodePolicy())

    def receive(self, *, visibility_timeout: int = 30, timeout: float = 15):
        return wait_until(lambda: self.client.receive_message(visibility_timeout=visibility_timeout),
                          timeout=timeout, message=f"a message on {self.client.queue_name}")

    def try_receive(self):
        return self.client.receive_message(visibility_timeout=30)

    def count(self) -> int:
        return self.client.get_queue_properties().approximate_message_count


@pytest.fixture
def host(azurite, settings) -> HostQueue:
    return HostQueue(azurite, settings.queue_name)


@pytest.fixture
def poison_host(azurite, settings) -> HostQueue:
    return HostQueue(azurite, settings.poison_queue_name)


def delivery(message) -> QueueDelivery:
    """What the worker function builds from the trigger's ``func.QueueMessage``."""
    return QueueDelivery(id=message.id, pop_receipt=message.pop_receipt, dequeue_count=message.dequeue_count,
                         body=message.content)


def submitted(svc: Services, name: str = "sample_Echo", inputs: dict | None = None, callback_url: str | None = None,
              **options) -> Operation:
    return submit(svc, Submission(name=name, inputs={} if inputs is None else inputs, base_url=BASE_URL,
                                  callback_url=callback_url, **options))


def lock_as(svc: Services, operation_id: str, message) -> Operation:
    """What a worker writes when it starts an attempt for ``message`` (and then, here, dies)."""
    op = svc.store.get(operation_id)
    now = utc_now()
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
    assert callbacks.calls(url) == [{"status": 200, "content_type": "application/json", "body": {
        "location": location(op.id), "backgroundOperationId": op.id,
        "backgroundOperationStateCode": 3, "backgroundOperationStatusCode": 30}}]

    # The same message delivered again (the host's delete was lost): nothing runs, nothing is written.
    process_message(svc, dataclasses.replace(delivery(message), dequeue_count=2))
    assert svc.store.get(op.id).etag == done.etag
    assert len(callbacks.calls(url)) == 1


def test_failed_attempt_goes_back_to_ready_keeps_the_error_and_delays_the_message(settings, host):
    svc = build_services(dataclasses.replace(settings, retry_base_seconds=2))
    op = submitted(svc, "sample_Fail", {"FailTimes": 1})
    message = host.receive(visibility_timeout=1)  # the receive alone would hide it for 1 s

    received_at = time.monotonic()
    process_message(svc, delivery(message))

    ready = svc.store.get(op.id)
    assert ready.status is Status.WAITING_FOR_RESOURCES
    assert ready.retrycount == 1
    assert ready.errorcode == DEFAULT_ERROR_CODE and "attempt 1" in ready.errormessage
    assert host.try_receive() is None
    back = host.receive(timeout=15)  # backoff: 2 s × 2^0, ±20 %
    assert time.monotonic() - received_at >= 1.5, "the message was not hidden for the backoff"
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
    host.client.delete_message(message.id, message.pop_receipt)  # untouched: the host's delete succeeds


def test_non_retryable_error_fails_the_operation_on_the_first_attempt(svc, host):
    op = submitted(svc, "sample_Fail", {"NonRetryable": True, "ErrorCode": -2147220000})
    message = host.receive()

    process_message(svc, delivery(message))

    failed = svc.store.get(op.id)
    assert failed.status is Status.FAILED
    assert failed.retrycount == 0
    assert failed.errorcode == -2147220000 and "for good" in failed.errormessage
    host.client.delete_message(message.id, message.pop_receipt)  # not delayed for a retry


def test_error_code_written_unsigned_is_recorded_and_the_operation_fails(svc, host):
    op = submitted(svc, "sample_Fail", {"NonRetryable": True, "ErrorCode": 0x80040265})
    message = host.receive()

    process_message(svc, delivery(message))

    failed = svc.store.get(op.id)
    assert failed.status is Status.FAILED
    assert failed.errorcode % 2**32 == 0x80040265


def test_duplicate_message_for_a_row_locked_by_another_message_is_dropped_without_writes(svc, host):
    op = submitted(svc, "sample_Sleep", {"Seconds": 1.5})
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


@pytest.mark.parametrize("body", ["missing", "not-a-guid", "{\"id\": 1}", "3f2504e0-4f89-41d3-9a0c"])
def test_message_for_a_missing_operation_or_with_a_malformed_body_is_dropped(svc, host, body):
    if body == "missing":
        body = new_operation_id(utc_now() + timedelta(days=1))
    svc.queue.queue.send_message(body)
    message = host.receive()
    assert message.content == body

    process_message(svc, delivery(message))  # no exception

    if body.count("-") == 4 and len(body) == 36:
        with pytest.raises(OperationNotFound):
            svc.store.get(body)  # nothing was created
    assert host.count() == 1  # nothing was queued


def test_finished_operation_with_a_pending_callback_is_called_back_once_when_two_deliveries_race(
        svc, host, callbacks):
    url = callbacks.new_url()
    op = submitted(svc, callback_url=url)
    canceled = cancel(svc, op.id)  # not started: Canceled at once, callback owed, a message queued for it
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
        svc, host, callbacks):
    url = callbacks.new_url()
    op = submitted(svc, callback_url=url)
    cancel(svc, op.id)  # Canceled; its callback is owed and a message queued for it
    row = svc.store.get(op.id)
    claimed = svc.store.replace(row.with_changes(callbackstate=CallbackState.SENDING, callbackclaimedon=utc_now()))
    message = host.receive()  # ... the worker that claimed it died before posting

    process_message(svc, delivery(message))
    assert callbacks.calls(url) == [] and svc.store.get(op.id).etag == claimed.etag  # the claim is still fresh

    svc.clock = lambda: utc_now() + timedelta(minutes=6)
    process_message(svc, dataclasses.replace(delivery(message), dequeue_count=2))
    assert [c["body"]["backgroundOperationStatusCode"] for c in callbacks.calls(url)] == [32]
    assert svc.store.get(op.id).callbackstate is CallbackState.DELIVERED


def test_callback_answered_503_is_retried_until_delivered_and_the_outcome_is_recorded(svc, host, callbacks):
    url = callbacks.new_url(answers=(503, 503, 200))
    op = submitted(svc, callback_url=url)
    process_message(svc, delivery(host.receive()))

    calls = callbacks.calls(url)
    assert len(calls) == 3 and all(c["body"] == calls[0]["body"] for c in calls)
    done = svc.store.get(op.id)
    assert done.status is Status.SUCCEEDED
    assert done.callbackstate is CallbackState.DELIVERED and done.callbackresult == "200 after 3 attempt(s)"


def test_callback_refused_with_400_is_not_retried_is_recorded_as_failed_and_leaves_the_state(svc, host, callbacks):
    url = callbacks.new_url(answers=(400,))
    op = submitted(svc, callback_url=url)
    process_message(svc, delivery(host.receive()))

    assert len(callbacks.calls(url)) == 1
    done = svc.store.get(op.id)
    assert done.status is Status.SUCCEEDED
    assert done.callbackstate is CallbackState.FAILED and done.callbackresult.startswith("400")


def test_poisoned_message_of_a_locked_operation_fails_it_saying_so_and_calls_back(svc, host, poison_host,
                                                                                   callbacks):
    url = callbacks.new_url()
    op = submitted(svc, callback_url=url)
    lock_as(svc, op.id, host.receive())  # the last attempt's worker died; the host moved the message on
    svc.queue.poison.send_message(op.id)
    poisoned = poison_host.receive()

    fail_poisoned(svc, poisoned.content)

    failed = svc.store.get(op.id)
    assert failed.status is Status.FAILED
    assert failed.errorcode == UNEXPECTED and "poison queue" in failed.errormessage
    assert failed.callbackstate is CallbackState.DELIVERED
    [call] = callbacks.calls(url)
    assert call["body"]["backgroundOperationStatusCode"] == 31
    assert call["body"]["backgroundOperationErrorMessage"] == failed.errormessage

    fail_poisoned(svc, poisoned.content)  # delivered twice: no second write, no second callback
    assert svc.store.get(op.id).etag == failed.etag
    assert len(callbacks.calls(url)) == 1


def test_message_for_an_operation_postponed_past_it_queues_a_delayed_message_and_leaves_the_row(svc, host):
    postpone_until = utc_now() + timedelta(seconds=2)
    now = utc_now()
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
    assert utc_now() >= postpone_until - timedelta(seconds=1)  # visibility is whole seconds
    assert deferred.id != early.id and deferred.content == op.id

    for _ in range(3):  # postponeuntil has come: resumed and run (or, a hair early, deferred once more)
        process_message(svc, delivery(deferred))
        if svc.store.get(op.id).status is not Status.WAITING:
            break
        deferred = host.receive(timeout=15)
    done = svc.store.get(op.id)
    assert done.status is Status.SUCCEEDED and done.outputs == {"B": 2} and done.postponeuntil is None


def _counted_services(settings: Settings, counted_clients, counter: TransactionCounter) -> Services:
    """What build_services wires, over clients whose requests are counted at the transport."""
    return build_services(settings, clients=counted_clients(counter))


def test_submit_and_process_of_echo_without_callback_costs_five_app_requests(settings, host, counted_clients):
    counter = TransactionCounter()
    svc = _counted_services(settings, counted_clients, counter)
    warm_subscription_cache(svc)
    counter.reset()  # creating the table and queues is once per process

    op = submitted(svc, inputs={"A": 1})
    submit_counts = dict(counter.counts)
    message = host.receive()  # the host's receive: batched, and not the app's
    process_message(svc, delivery(message))
    counts, total = dict(counter.counts), counter.total

    print(f"\nsubmit: {submit_counts}; submit + process: {counts} (total {total})")
    assert svc.store.get(op.id).status is Status.SUCCEEDED
    assert submit_counts == {"table POST": 1, "queue POST": 1}  # insert, enqueue
    # read (GET), lock (PUT), complete (POST: the row and its expiry marker in one batch)
    assert counts == {"table POST": 2, "queue POST": 1, "table GET": 1, "table PUT": 1}
    assert total == 5  # + read, lock, complete; the host's delete would be the 6th


def test_build_services_with_a_counter_counts_the_five_requests_of_submit_and_process(settings, host):
    counter = TransactionCounter()
    svc = build_services(settings, counter=counter)
    warm_subscription_cache(svc)
    counter.reset()
    submitted(svc, inputs={"A": 1})
    process_message(svc, delivery(host.receive()))
    assert counter.total == 5, dict(counter.counts)
