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
from azure.storage.queue import QueueServiceClient
from helpers import ACCOUNT_KEY, delivery, free_port, wait_until

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


def _queue_down(svc):
    conn = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
            f"QueueEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1")
    dead = QueueServiceClient.from_connection_string(conn, retry_total=0)
    return dataclasses.replace(svc, queue=StorageWorkQueue(dead, svc.settings.queue_name))


def _ids(svc) -> set[str]:
    return {op.id for op in svc.store.list(ListQuery(top=1000)).operations}


def test_a_row_whose_message_and_undo_both_failed_is_deleted_once_storage_answers(azurite, svc, unique_name):
    """make faults found it: storage went down between a submit's insert and its put, so the undo
    delete failed too and a Ready row stayed that nobody was told about."""
    proxy = StorageProxy(ports_of(azurite))
    try:
        def down_after_the_insert(response):  # storage goes away right after the row is written
            if response.http_request.method == "POST":
                proxy.down()

        tables = TableServiceClient.from_connection_string(proxy.connection_string("devstoreaccount1", ACCOUNT_KEY),
                                                           retry_total=0, raw_response_hook=down_after_the_insert)
        broken = dataclasses.replace(_queue_down(svc), store=TableOperationStore(tables, svc.settings.table_name))
        before = _ids(svc)
        with pytest.raises(StorageUnavailable):
            submitted(broken)
        [orphan] = [op for op in svc.store.list(ListQuery(top=1000)).operations if op.id not in before]
        proxy.up()
        wait_until(lambda: orphan.id not in _ids(svc),
                   timeout=15, message="the row that was not accepted to be deleted")
    finally:
        proxy.stop()


def test_an_insert_whose_answer_was_lost_leaves_no_row_once_storage_answers(azurite, svc):
    """The insert reached storage, its answer did not (storage went down in between): the caller gets 503
    and the row it was never told about is deleted once storage is back."""
    proxy = StorageProxy(ports_of(azurite))
    try:
        def answer_lost(response):
            if response.http_request.method == "POST":
                proxy.down()
                raise ServiceResponseError("the connection was reset before the answer arrived")

        tables = TableServiceClient.from_connection_string(proxy.connection_string("devstoreaccount1", ACCOUNT_KEY),
                                                           retry_total=0, raw_response_hook=answer_lost)
        broken = dataclasses.replace(svc, store=TableOperationStore(tables, svc.settings.table_name))
        before = _ids(svc)
        with pytest.raises(StorageUnavailable):
            submitted(broken)
        [orphan] = [op for op in svc.store.list(ListQuery(top=1000)).operations if op.id not in before]
        proxy.up()
        wait_until(lambda: orphan.id not in _ids(svc),
                   timeout=15, message="the row that was not accepted to be deleted")
    finally:
        proxy.stop()


def test_an_insert_retried_after_its_answer_was_lost_is_accepted_not_refused_as_a_conflict(svc):
    """The SDK retries an insert whose answer was lost; the retry finds the row (409). That row is this
    submission's own: it is accepted, and its message is sent."""
    op = submitted(svc)
    again = submission._insert(svc, svc.store.get(op.id).with_changes(etag=None))
    assert again.id == op.id and again.etag == svc.store.get(op.id).etag


def test_a_callback_sent_while_storage_went_down_is_recorded_once_it_answers_and_not_sent_again(
        azurite, svc, host, storage_settings):
    """make faults found it: the callback was POSTed, recording it failed, the worker failed, and the
    message that came back sent it again. Now the worker records it once storage answers."""
    proxy = StorageProxy(ports_of(azurite))
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
        proxy.stop()
