"""QueueListener in-process against Azurite: visibility renewal, messages
over the dequeue limit, undecodable messages."""

import base64
import logging
import time
import uuid

import pytest
from azure.storage.queue import QueueClient
from helpers import wait_until

from devhost.app_loader import QUEUE, FunctionSpec
from devhost.config import QueuesOptions
from devhost.queue_listener import QueueListener

OPTIONS = QueuesOptions(max_dequeue_count=3, max_polling_interval_seconds=0.5,
                        new_batch_threshold=4)


@pytest.fixture
def queues(azurite):
    name = f"listener-{uuid.uuid4().hex[:8]}"
    queue = QueueClient.from_connection_string(azurite, name)
    poison = QueueClient.from_connection_string(azurite, name + "-poison")
    queue.create_queue()
    yield queue, poison
    for q in (queue, poison):
        try:
            q.delete_queue()
        except Exception:
            pass


def _listener(queue, poison, invoke, **kwargs):
    spec = FunctionSpec(name="f", trigger_type=QUEUE, trigger=None, func=lambda: None,
                        queue_name=queue.queue_name)
    return QueueListener(spec, queue, poison, OPTIONS, invoke, **kwargs)


def _receive(queue, visibility=60):
    return next(iter(queue.receive_messages(visibility_timeout=visibility)))


def _renewals(caplog) -> int:
    return caplog.text.count("Renewed visibility of message")


def test_running_function_keeps_its_message_through_renewals(queues, caplog):
    queue, poison = queues
    queue.send_message(base64.b64encode(b"long").decode())
    stolen = []

    def invoke(spec, message, reason):
        # Decided by events, not by sleeping: once the 4 s the message was received for have
        # passed, and right after a renewal (every 2 s), only that renewal hides it.
        lapsed = time.monotonic() + 4
        wait_until(lambda: time.monotonic() > lapsed and _renewals(caplog) >= 2, timeout=30,
                   message="two renewals, past the first visibility timeout")
        seen = _renewals(caplog)
        wait_until(lambda: _renewals(caplog) > seen, timeout=30, message="one more renewal")
        stolen.extend(queue.receive_messages(visibility_timeout=1))

    listener = _listener(queue, poison, invoke, visibility_timeout=4, minimum_renewal_interval=0.5)
    with caplog.at_level(logging.DEBUG, logger="devhost"):
        listener.process(_receive(queue, visibility=4))
    assert stolen == []
    # Deleted with the pop receipt of the last renewal.
    assert queue.get_queue_properties().approximate_message_count == 0


def test_renewal_and_delete_stop_quietly_when_function_changed_its_pop_receipt(queues, caplog):
    queue, poison = queues
    queue.send_message(base64.b64encode(b"mine").decode())

    def invoke(spec, message, reason):
        queue.update_message(message.id, message.pop_receipt, visibility_timeout=1)
        # The next renewal (every 1 s) meets the stale pop receipt and stops.
        wait_until(lambda: "Stopped renewing" in caplog.text, timeout=30, message="the renewal to stop")

    listener = _listener(queue, poison, invoke, visibility_timeout=2, minimum_renewal_interval=0.5)
    with caplog.at_level(logging.DEBUG, logger="devhost"):
        listener.process(_receive(queue, visibility=2))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "Stopped renewing" in caplog.text and "not deleted: no longer ours" in caplog.text
    again = _receive(queue)  # the message was left to its owner, not deleted
    assert (again.dequeue_count, again.content) == (2, base64.b64encode(b"mine").decode())


def _with_dequeue_count(queue, count):
    for _ in range(count - 1):
        m = _receive(queue)
        queue.update_message(m.id, m.pop_receipt, visibility_timeout=0)
    return _receive(queue)


def test_message_over_max_dequeue_count_is_poisoned_without_running(queues):
    queue, poison = queues
    queue.send_message(base64.b64encode(b"late").decode())
    message = _with_dequeue_count(queue, 4)
    calls = []
    _listener(queue, poison, lambda *a, **k: calls.append(a)).process(message)
    assert calls == []
    assert [m.content for m in poison.peek_messages()] == [base64.b64encode(b"late").decode()]
    assert queue.get_queue_properties().approximate_message_count == 0


def test_message_that_is_not_base64_is_poisoned_without_running(queues):
    queue, poison = queues
    queue.send_message("not base64 at all!")
    calls = []
    _listener(queue, poison, lambda *a, **k: calls.append(a)).process(_receive(queue))
    assert calls == []
    assert [m.content for m in poison.peek_messages()] == ["not base64 at all!"]


def test_polling_survives_a_crashing_invoker(queues):
    queue, poison = queues
    seen = []

    def invoke(spec, message, reason):
        seen.append(message.get_body())
        raise RuntimeError("crash")

    listener = _listener(queue, poison, invoke)
    listener.start()
    try:
        for body in (b"a", b"b"):
            queue.send_message(base64.b64encode(body).decode())
        deadline = time.monotonic() + 20
        while seen.count(b"a") + seen.count(b"b") < 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sorted(seen) == [b"a"] * 3 + [b"b"] * 3  # 3 attempts each, then poison
    finally:
        listener.stop(grace_seconds=5)
