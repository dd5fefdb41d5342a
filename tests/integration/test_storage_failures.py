"""Writes that reach storage while their answers do not, and storage that fails between two writes
(issue 9; ``make faults`` found each of these). A TCP proxy in front of the real Azurite
(faults/proxy.py) takes storage away at the exact moment each test needs.
"""

from __future__ import annotations

import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from azure.core.exceptions import ServiceResponseError
from azure.data.tables import TableServiceClient
from helpers import ACCOUNT_KEY, delivery, queue_down, wait_until

from faults.proxy import StorageProxy, ports_of
from shared.domain.errors import StorageUnavailable
from shared.domain.operation import CallbackState
from shared.services import submission
from shared.services.container import build_services
from shared.services.submission import Submission, submit
from shared.services.worker import process_message
from shared.settings import Settings
from shared.storage.ports import ListQuery
from shared.storage.table_store import TableOperationStore


def submitted(svc, **options):
    return submit(svc, Submission(name="sample_Echo", inputs={}, base_url="http://127.0.0.1:7071", **options))


@pytest.fixture
def settings(storage_settings, unique_name) -> Settings:
    return Settings(storage=storage_settings, queue_name=unique_name("fail"), table_name=unique_name("fail"),
                    enable_samples=True, allow_http_callbacks=True, callback_retry_base_seconds=0.05)


@pytest.fixture
def svc(settings):
    return build_services(settings)


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
    again = submission._insert(svc, svc.store.get(op.id).with_changes(etag=None))
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
