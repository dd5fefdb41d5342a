"""Writes that reach storage while their answers do not, and storage that fails between two writes
(``make faults`` found each of these). A TCP proxy in front of the real Azurite
(faults/proxy.py) takes storage away at the exact moment each test needs.
"""

from __future__ import annotations

import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from azure.core.exceptions import ServiceResponseError
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient
from helpers import ACCOUNT_KEY, delivery, queue_down, wait_until

from faults.proxy import StorageProxy, ports_of
from shared.bootstrap import build_services
from shared.domain.errors import StorageUnavailable
from shared.domain.operation import CallbackState
from shared.domain.states import Status
from shared.operations.registry import OperationDefinition
from shared.services import multiple, submission
from shared.services.submission import Submission, submit
from shared.services.worker import process_message
from shared.settings import Settings
from shared.storage.ports import ListQuery
from shared.storage.table_store import TableOperationStore
from shared.storage.work_messages import decode
from shared.storage.work_queue import StorageWorkQueue


def submitted(svc, **options):
    return submit(svc, Submission(name="sample_Echo", inputs={}, base_url="http://127.0.0.1:7071", **options))


@pytest.fixture
def settings(storage_settings, unique_name) -> Settings:
    return Settings(storage=storage_settings, queue_name=unique_name("fail"), table_name=unique_name("fail"),
                    enable_samples=True, allow_http_callbacks=True, callback_retry_base_seconds=0.05)


@pytest.fixture
def svc(settings):
    return build_services(settings)


@pytest.fixture(autouse=True)
def quick_sends(monkeypatch):
    """A submission tries to queue its message for a second here, not ten: storage in these tests is either
    down for good or back at once."""
    monkeypatch.setattr(submission, "SEND_SECONDS", 1.0)


def _ids(svc) -> set[str]:
    return {op.id for op in svc.store.list(ListQuery(top=1000)).operations}


@pytest.fixture
def proxy(azurite):
    proxy = StorageProxy(ports_of(azurite))
    yield proxy
    proxy.stop()


def _submit_while_the_insert_meets_the_outage(svc, proxy, after_the_insert, *, with_queue_down: bool) -> None:
    """Submit through a table client on which ``after_the_insert(response)`` runs once the insert
    reached storage; the submit must answer 503, and the row it wrote must be gone once storage is back."""
    def hook(response):
        if response.http_request.method == "POST":
            after_the_insert(response)

    tables = TableServiceClient.from_connection_string(proxy.connection_string("devstoreaccount1", ACCOUNT_KEY),
                                                       retry_total=0, raw_response_hook=hook)
    broken = dataclasses.replace(queue_down(svc) if with_queue_down else svc,
                                 store=TableOperationStore(tables, svc.settings.table_name))
    before = _ids(svc)
    with pytest.raises(StorageUnavailable):
        submitted(broken)
    [orphan] = _ids(svc) - before  # the insert did reach storage
    proxy.up()
    wait_until(lambda: orphan not in _ids(svc), timeout=15, message="the row that was not accepted to be deleted")


def test_a_row_whose_message_and_undo_both_failed_is_deleted_once_storage_answers(svc, proxy):
    """make faults found it: storage went down between a submit's insert and its put, so the undo
    delete failed too and a Ready row stayed that nobody was told about."""
    _submit_while_the_insert_meets_the_outage(svc, proxy, lambda response: proxy.down(), with_queue_down=True)


def test_an_insert_whose_answer_was_lost_leaves_no_row_once_storage_answers(svc, proxy):
    """The insert reached storage, its answer did not (storage went down in between): the caller gets 503
    and the row it was never told about is deleted once storage is back."""
    def answer_lost(response):
        proxy.down()
        raise ServiceResponseError("the connection was reset before the answer arrived")

    _submit_while_the_insert_meets_the_outage(svc, proxy, answer_lost, with_queue_down=False)


def test_an_insert_retried_after_its_answer_was_lost_is_accepted_not_refused_as_a_conflict(svc):
    """The SDK retries an insert whose answer was lost; the retry finds the row (409). That row is this
    submission's own: it is accepted, and its message is sent."""
    op = submitted(svc)
    again = submission.insert(svc, svc.store.get(op.id).with_changes(etag=None))
    assert again.id == op.id and again.etag == svc.store.get(op.id).etag


def test_a_callback_sent_while_storage_went_down_is_recorded_once_it_answers_and_not_sent_again(
        svc, host, storage_settings, proxy):
    """make faults found it: the callback was POSTed, recording it failed, the worker failed, and the
    message that came back sent it again. Now the worker records it once storage answers."""
    posts: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append(self.rfile.read(int(self.headers["Content-Length"])))
            proxy.down()  # storage goes away while the receiver answers
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        through_proxy = dataclasses.replace(svc.settings, storage=dataclasses.replace(
            storage_settings, connection_string=proxy.connection_string("devstoreaccount1", ACCOUNT_KEY)))
        worker_svc = build_services(through_proxy)
        op = submitted(svc, callback_url=f"http://127.0.0.1:{receiver.server_port}/cb")
        process_message(worker_svc, delivery(host.receive()))  # returns: nothing for the host to retry
        proxy.up()
        wait_until(lambda: svc.store.get(op.id).callbackstate is CallbackState.DELIVERED, timeout=20,
                   message="the delivered callback to be recorded")
        assert len(posts) == 1
    finally:
        receiver.shutdown()


def _many(svc, count: int, *, continue_on_error: bool):
    requests = [Submission(name="sample_Echo", inputs={"I": i}, base_url="http://127.0.0.1:7071") for i in range(count)]
    return multiple.submit_many(svc, requests, continue_on_error=continue_on_error)


def _queue_going_down_after(svc, proxy, sends: int):
    """``svc`` whose queue goes through the proxy, which goes down once ``sends`` messages were sent."""
    sent = []

    def hook(response):
        if response.http_request.method == "POST" and response.http_response.status_code == 201:
            sent.append(1)
            if len(sent) == sends:
                proxy.down()

    queues = QueueServiceClient.from_connection_string(proxy.connection_string("devstoreaccount1", ACCOUNT_KEY),
                                                       retry_total=0, raw_response_hook=hook)
    return dataclasses.replace(svc, queue=StorageWorkQueue(queues, svc.settings.queue_name))


@pytest.mark.parametrize("continue_on_error", [False, True])
def test_execute_multiple_with_storage_going_down_midway_keeps_what_it_queued_and_withdraws_the_rest(
        svc, proxy, host, continue_on_error):
    """Queue storage goes down after 60 of 200 messages: the sends in flight then may have been queued, so
    their requests are accepted; the ones storage refused are faulted and their rows withdrawn; the first
    fault stops the waves after it. Every accepted request gets a message (one that may have been lost
    is sent again once storage answers); no refused one does."""
    results = _many(_queue_going_down_after(svc, proxy, 60), 200, continue_on_error=continue_on_error)
    proxy.up()
    queued = {r.row.id for r in results if r.row is not None}
    faulted = [r.index for r in results if r.fault is not None]
    assert len(queued) >= 60 and faulted and all(isinstance(r.fault, StorageUnavailable) for r in results if r.fault)
    if not continue_on_error:  # nothing after the wave that met the fault was processed
        assert max(r.index for r in results) < 100 and len(results) < 200
    else:
        assert len(results) == 200
    wait_until(lambda: _ids(svc) == queued, timeout=20, message="the rows of unqueued requests to be withdrawn")
    messages: set[str] = set()

    def every_accepted_has_a_message() -> bool:
        while (message := host.try_receive()) is not None:
            messages.add(decode(message.content).operation_id)
        return queued <= messages

    wait_until(every_accepted_has_a_message, timeout=30, interval=0.5, message="a message for each accepted one")
    assert messages <= queued  # nothing refused was ever queued


def test_execute_multiple_with_storage_down_answers_unavailable_and_leaves_nothing(svc):
    with pytest.raises(StorageUnavailable):
        _many(queue_down(svc), 30, continue_on_error=True)
    wait_until(lambda: not _ids(svc), timeout=20, message="every row to be withdrawn")


class Counted:
    """An operation that counts its runs, registered as ``test_Counted``."""

    def __init__(self, svc) -> None:
        self.runs = 0
        svc.registry.register(OperationDefinition(name="test_Counted", handler=self.run))

    def run(self, inputs, context):
        self.runs += 1
        return {"Runs": self.runs}


def _queue_through(svc, proxy, *, before_each_send=None):
    """``svc`` whose queue goes through the proxy (one try per call, as a submission makes them)."""
    def hook(request):
        if request.http_request.method == "POST" and before_each_send:
            before_each_send()

    queues = QueueServiceClient.from_connection_string(proxy.connection_string("devstoreaccount1", ACCOUNT_KEY),
                                                       raw_request_hook=hook)
    return dataclasses.replace(svc, queue=StorageWorkQueue(queues, svc.settings.queue_name))


def test_a_submission_whose_message_may_have_been_queued_is_accepted_and_runs_exactly_once(svc, proxy, host):
    """The first put reached the queue but its answer was lost: a worker may already run it, so the
    submission is accepted, and the second message, sent by the next try, becomes visible only once that
    worker would have recorded the run, which it then finds and drops."""
    counted, sends = Counted(svc), []

    def second_send_finds_storage_back():
        sends.append(1)
        if len(sends) == 2:
            proxy.up()

    proxy.lose_answers()
    op = submit(_queue_through(svc, proxy, before_each_send=second_send_finds_storage_back),
                Submission(name="test_Counted", inputs={}, base_url="http://127.0.0.1:7071"))
    assert op.id in _ids(svc) and len(sends) == 2

    first = host.receive()
    assert decode(first.content).row is not None  # the one whose answer was lost: it carries the row
    process_message(svc, delivery(first))
    assert counted.runs == 1 and host.try_receive() is None  # the second one is not visible yet
    second = host.receive(timeout=20)
    assert decode(second.content).operation_id == op.id and decode(second.content).row is None
    process_message(svc, delivery(second))
    assert counted.runs == 1 and svc.store.get(op.id).status is Status.SUCCEEDED


def test_a_submission_whose_every_put_may_have_been_lost_is_accepted_and_queued_once_storage_answers(
        svc, proxy, host):
    counted = Counted(svc)
    proxy.lose_answers()
    op = submit(_queue_through(svc, proxy), Submission(name="test_Counted", inputs={}, base_url="http://x"))
    proxy.up()

    def every_message_run() -> bool:  # each one that landed, and the one sent once storage answered
        while (message := host.try_receive()) is not None:
            process_message(svc, delivery(message))
            host.client.delete_message(message)
        return svc.later.pending() == 0 and host.count() == 0

    wait_until(every_message_run, timeout=30, interval=0.5, message="every message of the operation")
    assert counted.runs == 1 and svc.store.get(op.id).status is Status.SUCCEEDED


def test_a_submission_whose_every_put_was_refused_is_refused_and_leaves_nothing(svc, host):
    with pytest.raises(StorageUnavailable):
        submit(queue_down(svc), Submission(name="sample_Echo", inputs={}, base_url="http://127.0.0.1:7071"))
    assert _ids(svc) == set() and host.try_receive() is None


def test_an_attempt_whose_outcome_meets_an_outage_keeps_trying_to_write_it_and_is_not_run_again(
        svc, storage_settings, proxy, host):
    """The handler did its work; storage went down before its outcome could be written. The worker keeps
    trying while the host keeps the message, instead of failing and having the message run it again."""
    through_proxy = build_services(dataclasses.replace(svc.settings, storage=dataclasses.replace(
        storage_settings, connection_string=proxy.connection_string("devstoreaccount1", ACCOUNT_KEY))))
    runs = []

    def work(inputs, context):
        runs.append(1)
        proxy.down()
        threading.Timer(2.0, proxy.up).start()  # back before END_WRITE_SECONDS
        return {"Done": True}

    for services in (svc, through_proxy):
        services.registry.register(OperationDefinition(name="test_Work", handler=work))
    op = submit(svc, Submission(name="test_Work", inputs={}, base_url="http://127.0.0.1:7071"))
    process_message(through_proxy, delivery(host.receive()))  # returns: nothing for the host to retry
    assert runs == [1] and svc.store.get(op.id).status is Status.SUCCEEDED
