"""Queue storage for queue triggers: a binding's ``connection`` resolved as the WebJobs storage extensions
resolve it, and the storage errors the queue listener may ignore."""

from __future__ import annotations

import base64
import functools
import random
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.queue import ExponentialRetry, QueueClient, QueueServiceClient

from shared.settings import poison_queue_name as poison_queue_name_of
from shared.storage.clients import normalize_connection_string

from .config import SettingError

# A queue name has at most 63 characters; there is no poison queue for a queue already ending in "-poison" or
# too long to take the suffix (QueuesOptions.MaxDequeueCount remarks, QueueListenerFactory).
MAX_QUEUE_NAME = 63


def connection_string(connection: str | None, environ: Mapping[str, str]) -> str:
    """The connection string a binding's ``connection`` names: none means ``AzureWebJobsStorage``, and a
    name ``X`` is looked up as ``X``, then ``AzureWebJobsX``."""
    name = connection or "AzureWebJobsStorage"
    for candidate in (name, f"AzureWebJobs{name}"):
        if value := (environ.get(candidate) or "").strip():
            return normalize_connection_string(value)
    if any(key.startswith(f"{name}__") for key in environ):
        raise SettingError(f"connection '{name}' is identity-based ({name}__...); the local host only supports "
                           "connection strings (use Azurite's or an account key)")
    raise SettingError(f"connection setting '{name}' is not defined")


def queue_client(environ: Mapping[str, str], connection: str | None, queue_name: str) -> QueueClient:
    """A client for ``queue_name`` on the account ``connection`` names. It has no encode or decode policy:
    the listener decodes per ``messageEncoding`` itself and copies a message to the poison queue unchanged."""
    return _service(connection_string(connection, environ)).get_queue_client(queue_name)


class HostRetry(ExponentialRetry):
    """The host's storage retries: Azure.Core's RetryOptions defaults (exponential from a 0.8 s delay, 3 retries,
    each delay ±20%), not the Python SDK's (15 s, then 18, 24 and 42, each ±3 s), under which one reset
    connection held a queue's listener for 21 s in a test while its messages came due."""

    def __init__(self) -> None:
        super().__init__(retry_total=3)

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        return float(0.8 * 2 ** max(settings["count"] - 1, 0) * random.uniform(0.8, 1.2))


@functools.cache
def _service(conn: str) -> QueueServiceClient:
    return QueueServiceClient.from_connection_string(conn, retry_policy=HostRetry())


def poison_queue_name(queue_name: str) -> str | None:
    """``<queue>-poison``, or None when the host would have no poison queue."""
    poison = poison_queue_name_of(queue_name)
    return None if queue_name.endswith(poison[len(queue_name):]) or len(poison) > MAX_QUEUE_NAME else poison


def error_code(error: HttpResponseError) -> str:
    """The storage error code (e.g. 'PopReceiptMismatch') as a plain string."""
    code = getattr(error, "error_code", None)  # set by the storage SDKs' error handling
    return str(getattr(code, "value", code) or "")


def lost_ownership(error: Exception) -> bool:
    """The errors that mean "the message is no longer ours", which QueueProcessor and
    UpdateQueueMessageVisibilityCommand ignore (RequestFailedExceptionExtensions.cs): 400
    PopReceiptMismatch, 404 MessageNotFound or QueueNotFound, 409 QueueBeingDeleted."""
    if not isinstance(error, HttpResponseError):
        return False
    return (error.status_code, error_code(error)) in {
        (400, "PopReceiptMismatch"), (404, "MessageNotFound"), (404, "QueueNotFound"), (409, "QueueBeingDeleted")}


def ensure_queue(client: QueueClient) -> None:
    """Create the queue if it does not exist."""
    try:
        client.create_queue()
    except ResourceExistsError:
        pass


def send_raw(client: QueueClient, content: str) -> None:
    """Add a message, creating the queue first if it is missing (AddMessageAndCreateIfNotExistsAsync)."""
    try:
        client.send_message(content)
    except HttpResponseError as e:
        if e.status_code != 404:
            raise
        ensure_queue(client)
        client.send_message(content)


def decode_message(content: str, encoding: str) -> bytes:
    """A message's body; ValueError when base64 decoding fails."""
    return base64.b64decode(content.encode("ascii"), validate=True) if encoding == "base64" else content.encode()
