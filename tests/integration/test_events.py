"""Completion events on real storage: what finishing an operation costs with 0, 1 and 10 subscribers, and
delivering outputs too large to travel in the event, and that an event owed when a worker died is still
published by the next message."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from azure.storage.queue import QueueClient
from helpers import wait_until, warm_subscription_cache

from shared.bootstrap import build_services
from shared.domain.operation import EVENTS_OWED, EVENTS_PUBLISHED
from shared.domain.states import Event
from shared.services.events import notify, subscribe
from shared.services.rows import write
from shared.services.submission import Submission, submit
from shared.services.worker import QueueDelivery, process_message
from shared.settings import Settings, events_queue_name
from shared.storage.metering import TransactionCounter


def utc_now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def settings(storage_settings, unique_name) -> Settings:
    name = unique_name("ev")
    return Settings(storage=storage_settings, queue_name=name, table_name=name, enable_samples=True,
                    allow_http_callbacks=True, callback_retry_base_seconds=0.05, max_attempts=4)


def _receive(connection_string: str, queue_name: str) -> list:
    """What the host receives from a queue (raw base64 text, as the trigger gets it decoded)."""
    client = QueueClient.from_connection_string(connection_string, queue_name)
    return list(client.receive_messages(max_messages=32, visibility_timeout=60))


def _body(message) -> str:
    return base64.b64decode(message.content).decode("utf-8")


LARGE = {"Blob": "x" * 9_000}  # outputs (sample_Echo's are its inputs) too large to travel in the event


@pytest.mark.parametrize("subscribers, inputs", [(0, {"A": 1}), (1, {"A": 1}), (10, {"A": 1}), (2, LARGE)])
def test_cost_of_an_operation_with_0_1_and_10_subscribers_and_of_large_outputs(settings, azurite, counted_clients,
                                                                              callbacks, subscribers, inputs):
    counter = TransactionCounter()
    svc = build_services(settings, clients=counted_clients(counter))
    urls = [callbacks.new_url() for _ in range(subscribers)]
    for url in urls:
        subscribe(svc, "OnBackgroundOperationComplete", {"NotificationUrl": url}, utc_now())
    warm_subscription_cache(svc)
    counter.reset()

    op = submit(svc, Submission(name="sample_Echo", inputs=inputs, base_url="http://127.0.0.1:7071"))
    [work] = wait_until(lambda: _receive(azurite, settings.queue_name))
    process_message(svc, QueueDelivery(work.id, work.pop_receipt, work.dequeue_count, _body(work)))
    finishing = counter.total
    counter.reset()
    events, fanned = [], 0
    while len(events) < subscribers:  # what the notify function gets: the events, or one fan-out of them
        for message in wait_until(lambda: _receive(azurite, events_queue_name(settings.queue_name)), timeout=5):
            if "fanout" in _body(message):
                fanned += 1
                notify(svc, _body(message))
            else:
                events.append(message)
    fanning = counter.total
    counter.reset()
    for message in events:
        notify(svc, _body(message))
    delivering = counter.total

    print(f"\n{subscribers} subscriber(s): submit + finish {finishing} app requests; fanning out {fanning}; "
          f"delivering {delivering}; event messages {len(events)}")
    assert svc.store.get(op.id).eventsstate == (EVENTS_PUBLISHED if subscribers else "")
    # A put per subscriber (one fan-out put for more than two), and the mark; the fan-out's put per subscriber.
    assert finishing == 3 + (0 if not subscribers else subscribers + 1 if subscribers <= 2 else 2)
    assert (fanned, fanning) == ((1, subscribers) if subscribers > 2 else (0, 0))
    # The subscriptions are read from the cache; large outputs, from the row, once per delivery.
    assert len(events) == subscribers and delivering == (subscribers if inputs is LARGE else 0)
    assert all([c["body"]["OutputParameters"]["Outputs"] for c in callbacks.calls(url)] == [inputs] for url in urls)


def test_an_event_owed_when_the_worker_died_is_published_by_the_next_message(settings, azurite, callbacks):
    svc = build_services(settings)
    url = callbacks.new_url()
    subscribe(svc, "OnBackgroundOperationComplete", {"NotificationUrl": url}, utc_now())
    op = submit(svc, Submission(name="sample_Echo", inputs={}, base_url="http://127.0.0.1:7071"))
    _receive(azurite, settings.queue_name)  # the first message: its worker dies right after the terminal write
    now = utc_now()
    died = write(svc, write(svc, op.apply(Event.START, now)).apply(Event.SUCCEED, now, outputs={}))
    assert died.eventsstate == EVENTS_OWED

    svc.queue.enqueue(op.id)  # a later message for the same operation (as after a lease expiry)
    later = wait_until(lambda: [m for m in _receive(azurite, settings.queue_name) if _body(m) == op.id])[0]
    process_message(svc, QueueDelivery(later.id, later.pop_receipt, later.dequeue_count, _body(later)))
    assert svc.store.get(op.id).eventsstate == EVENTS_PUBLISHED
    [event] = wait_until(lambda: _receive(azurite, events_queue_name(settings.queue_name)))
    notify(svc, _body(event))
    assert callbacks.calls(url)[0]["body"]["InputParameters"]["BackgroundOperationId"] == op.id
