"""Queue triggers against Azurite: retries, dequeue_count, poison queue,
stale pop receipts."""

import base64
import json
import uuid

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient
from helpers import wait_until


def _queue(azurite, name):
    return QueueClient.from_connection_string(azurite, name)


def _send(azurite, host, **job):
    key = job.setdefault("key", uuid.uuid4().hex)
    body = json.dumps(job).encode()
    _queue(azurite, host.queue_name).send_message(base64.b64encode(body).decode())
    return key


def _counts(host, key):
    return [r["dequeue_count"] for r in host.records(key)]


def test_success_runs_once_and_deletes_the_message(azurite, host):
    key = _send(azurite, host, mode="ok")
    wait_until(lambda: _counts(host, key) == [1], message="one run")
    record = host.records(key)[0]
    assert json.loads(record["body"])["key"] == key


def _poison_keys(azurite, host):
    poison = _queue(azurite, host.queue_name + "-poison")
    try:
        messages = poison.peek_messages(max_messages=32)
    except ResourceNotFoundError:
        return []  # created lazily, on the first poison message
    return [json.loads(base64.b64decode(m.content))["key"] for m in messages]


def _visible_or_hidden_count(azurite, host):
    return _queue(azurite, host.queue_name).get_queue_properties().approximate_message_count


def test_failure_releases_the_message_and_dequeue_count_increments(azurite, host):
    key = _send(azurite, host, mode="fail_until", n=3)
    wait_until(lambda: _counts(host, key) == [1, 2, 3], message="three attempts")
    # It succeeded on attempt 3 (= maxDequeueCount): deleted, not poisoned.
    wait_until(lambda: _visible_or_hidden_count(azurite, host) == 0, message="message deleted")
    assert key not in _poison_keys(azurite, host)


def test_message_goes_to_poison_queue_after_max_dequeue_count(azurite, host):
    key = _send(azurite, host, mode="always_fail")
    wait_until(lambda: key in _poison_keys(azurite, host), message="message in poison queue")
    assert _counts(host, key) == [1, 2, 3]  # maxDequeueCount = 3 in the fixture host.json
    poison = _queue(azurite, host.queue_name + "-poison")
    [message] = [m for m in poison.peek_messages(max_messages=32)
                 if json.loads(base64.b64decode(m.content))["key"] == key]
    # Same content, still base64 as the trigger expects.
    assert json.loads(base64.b64decode(message.content)) == {"key": key, "mode": "always_fail"}


def test_stale_pop_receipt_after_function_updated_its_own_message_is_ignored(azurite, host):
    key = _send(azurite, host, mode="self_visibility")
    # Attempt 1 hides its own message for 2 s and succeeds; the host's delete
    # meets PopReceiptMismatch and ignores it; the message comes back as
    # attempt 2, which succeeds and is deleted for good.
    wait_until(lambda: _counts(host, key) == [1, 2], message="message to come back")
    wait_until(lambda: _visible_or_hidden_count(azurite, host) == 0, message="message deleted")
    assert key not in _poison_keys(azurite, host)
    assert "Processing message" not in host.log()  # no listener error


def test_the_listeners_storage_retries_wait_as_the_hosts_do_seconds_not_a_quarter_minute():
    from devhost.storage import HostRetry, queue_client

    delays = [HostRetry().get_backoff_time({"count": count}) for count in (1, 2, 3)]
    assert 0.64 <= delays[0] <= 0.96 and 1.28 <= delays[1] <= 1.92 and 2.56 <= delays[2] <= 3.84
    client = queue_client({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, None, "q")
    assert isinstance(client._config.retry_policy, HostRetry)
