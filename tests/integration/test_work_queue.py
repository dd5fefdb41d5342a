"""StorageWorkQueue on a real Azurite: message encoding, delays, visibility and queue creation."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy
from helpers import wait_until

from shared.domain.errors import StorageUnavailable
from shared.domain.ids import new_operation_id
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


def test_enqueue_with_delay_seconds_hides_the_message_until_the_delay_has_passed(work_queue, reader):
    operation_id = an_id()
    sent = time.monotonic()
    message_id = work_queue.enqueue(operation_id, delay_seconds=2)

    assert reader.receive_message() is None
    message = wait_until(reader.receive_message, timeout=15, message="the delayed message")
    assert time.monotonic() - sent >= 1.5
    assert (message.id, message.content) == (message_id, operation_id)


def test_enqueue_caps_a_delay_beyond_the_seven_day_visibility_limit(work_queue, reader):
    work_queue.enqueue(an_id(), delay_seconds=30 * 24 * 3600)  # a long postponement: refused by storage if not capped
    assert reader.receive_message() is None
    assert reader.get_queue_properties().approximate_message_count == 1


def test_set_visibility_with_the_pop_receipt_hides_a_received_message_and_changes_its_pop_receipt(
        work_queue, reader):
    operation_id = an_id()
    work_queue.enqueue(operation_id)
    received = reader.receive_message(visibility_timeout=1)

    hidden_at = time.monotonic()
    work_queue.set_visibility(received.id, received.pop_receipt, 3)
    assert reader.receive_message() is None
    # The receipt the trigger got is stale now: the host's delete with it fails (and the host ignores that).
    with pytest.raises(HttpResponseError):
        reader.delete_message(received.id, received.pop_receipt)

    back = wait_until(reader.receive_message, timeout=15, message="the message to come back")
    assert time.monotonic() - hidden_at >= 2  # hidden for the 3 s asked, not the 1 s of the receive
    assert (back.id, back.content, back.dequeue_count) == (received.id, operation_id, 2)


def test_set_visibility_with_an_unknown_message_raises_storage_unavailable(work_queue, reader):
    work_queue.enqueue(an_id())
    received = reader.receive_message()
    reader.delete_message(received)
    with pytest.raises(StorageUnavailable):
        work_queue.set_visibility(received.id, received.pop_receipt, 5)


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
