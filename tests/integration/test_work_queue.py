"""StorageWorkQueue on a real Azurite: the WorkQueue contract (tests/contracts.py), message encoding, expiry,
queue creation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy
from contracts import WorkQueueContract
from fakes import MemoryMessage

from shared.domain.errors import StorageUnavailable
from shared.domain.ids import new_operation_id
from shared.settings import events_queue_name
from shared.storage.clients import build_service_clients
from shared.storage.metering import TransactionCounter
from shared.storage.work_queue import StorageWorkQueue


def an_id() -> str:
    return new_operation_id(datetime.now(UTC) + timedelta(days=1))


@pytest.fixture
def queue_name(unique_name):
    return unique_name("q")


@pytest.fixture
def work_queue(storage_settings, queue_name) -> StorageWorkQueue:
    _, queues = build_service_clients(storage_settings)
    work_queue = StorageWorkQueue(queues, queue_name)
    work_queue.ensure_queues()
    return work_queue


@pytest.fixture
def reader(azurite, queue_name) -> QueueClient:
    """The work queue as the Functions host reads it: base64 bodies decoded."""
    return QueueClient.from_connection_string(azurite, queue_name, message_decode_policy=TextBase64DecodePolicy())


@pytest.fixture
def raw_reader(azurite, queue_name) -> QueueClient:
    """The work queue with no decoding: the text exactly as stored."""
    return QueueClient.from_connection_string(azurite, queue_name)


def test_enqueue_puts_a_base64_message_whose_decoded_body_is_exactly_the_id(work_queue, reader, raw_reader):
    operation_id = an_id()
    message_id = work_queue.enqueue(operation_id)

    [peeked] = reader.peek_messages()
    assert peeked.content == operation_id
    raw = raw_reader.receive_message()
    assert raw.id == message_id
    assert raw.content == base64.b64encode(operation_id.encode()).decode("ascii")
    assert base64.b64decode(raw.content, validate=True).decode("utf-8") == operation_id


def test_enqueued_message_never_expires(work_queue, reader):
    work_queue.enqueue(an_id())
    message = reader.receive_message()
    assert message.expires_on is None or message.expires_on.year >= 9999, message.expires_on


def test_enqueue_caps_a_delay_beyond_the_seven_day_visibility_limit(work_queue, reader):
    work_queue.enqueue(an_id(), delay_seconds=30 * 24 * 3600)  # a long postponement: refused by storage if not capped
    assert reader.receive_message() is None
    assert reader.get_queue_properties().approximate_message_count == 1


def test_ensure_queues_creates_the_queue_and_its_poison_queue_and_is_idempotent(storage_settings, unique_name,
                                                                                azurite):
    name = unique_name("q")
    _, queues = build_service_clients(storage_settings)
    work_queue = StorageWorkQueue(queues, name)
    plain = [QueueClient.from_connection_string(azurite, n) for n in (name, f"{name}-poison")]
    for client in plain:
        with pytest.raises(ResourceNotFoundError):
            client.get_queue_properties()

    work_queue.ensure_queues()
    for client in plain:
        client.get_queue_properties()

    operation_id = an_id()
    work_queue.enqueue(operation_id)
    work_queue.ensure_queues()  # again: no error, nothing lost
    decoded = QueueClient.from_connection_string(azurite, name, message_decode_policy=TextBase64DecodePolicy())
    assert [m.content for m in decoded.peek_messages()] == [operation_id]


def test_ping_answers_for_an_existing_queue(work_queue):
    work_queue.ping()


def test_ping_raises_storage_unavailable_for_a_missing_queue(storage_settings, unique_name):
    _, queues = build_service_clients(storage_settings)
    with pytest.raises(StorageUnavailable):
        StorageWorkQueue(queues, unique_name("missing")).ping()


def test_transaction_counter_given_to_build_service_clients_counts_queue_requests(storage_settings, queue_name,
                                                                                   work_queue):
    counter = TransactionCounter()
    _, queues = build_service_clients(storage_settings, counter=counter)
    StorageWorkQueue(queues, queue_name).enqueue(an_id())
    assert dict(counter.counts) == {"queue POST": 1}


class StorageHost:
    """The work and events queues as the Functions host uses them."""

    def __init__(self, azurite: str, queue_name: str) -> None:
        decoding = {"message_decode_policy": TextBase64DecodePolicy()}
        self.work = QueueClient.from_connection_string(azurite, queue_name, **decoding)
        self.events = QueueClient.from_connection_string(azurite, events_queue_name(queue_name), **decoding)

    def receive(self, visibility_seconds, events=False):
        message = (self.events if events else self.work).receive_message(visibility_timeout=visibility_seconds)
        return None if message is None else MemoryMessage(message.id, message.content, message.pop_receipt,
                                                          message.dequeue_count)

    def delete(self, message_id, pop_receipt):
        try:
            self.work.delete_message(message_id, pop_receipt)
        except HttpResponseError:  # PopReceiptMismatch or MessageNotFound, as the host ignores them
            return False
        return True


class TestStorageWorkQueue(WorkQueueContract):
    @pytest.fixture
    def host(self, azurite, queue_name):
        return StorageHost(azurite, queue_name)


def test_the_oldest_waiting_message_is_the_first_visible_ones_age_and_none_when_nothing_waits(work_queue, reader):
    assert work_queue.oldest_waiting_seconds() is None
    work_queue.enqueue(an_id(), delay_seconds=3600)  # postponed: not waiting to run
    assert work_queue.oldest_waiting_seconds() is None
    work_queue.enqueue(an_id())
    age = work_queue.oldest_waiting_seconds()
    assert age is not None and 0 <= age < 60
    reader.receive_message(visibility_timeout=60)  # taken by a worker: no longer waiting
    assert work_queue.oldest_waiting_seconds() is None
