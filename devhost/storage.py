"""Storage connections for queue triggers.

Resolves a binding's ``connection`` the way the WebJobs storage extensions do
and classifies the storage errors the queue listener is allowed to ignore.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Mapping

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.queue import QueueClient, QueueServiceClient

from shared.settings import poison_queue_name as poison_queue_name_of
from shared.storage.clients import normalize_connection_string

from .config import SettingError

# A queue name is at most 63 characters; the host has no poison queue for a
# queue already ending in "-poison" or too long to take the suffix
# (QueuesOptions.MaxDequeueCount remarks, QueueListenerFactory).
MAX_QUEUE_NAME = 63


def connection_string(connection: str | None, environ: Mapping[str, str]) -> str:
    """The connection string named by a binding's ``connection`` property.

    Like the host: an empty name means ``AzureWebJobsStorage``, and a name
    ``X`` is looked up as ``X`` and then ``AzureWebJobsX``.
    """
    name = connection or "AzureWebJobsStorage"
    for candidate in (name, f"AzureWebJobs{name}"):
        value = (environ.get(candidate) or "").strip()
        if value:
            return normalize_connection_string(value)
    if any(key.startswith(f"{name}__") for key in environ):
        raise SettingError(
            f"connection '{name}' is identity-based ({name}__...); the local host "
            "only supports connection strings (use Azurite's or an account key)")
    raise SettingError(f"connection setting '{name}' is not defined")


class QueueClients:
    """Caches one QueueServiceClient per connection string.

    Clients carry no message encode/decode policy: the listener sees the raw
    message text, so it can decode per ``messageEncoding`` itself and copy a
    message to the poison queue unchanged.
    """

    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ
        self._services: dict[str, QueueServiceClient] = {}
        self._lock = threading.Lock()

    def queue(self, connection: str | None, queue_name: str) -> QueueClient:
        """A client for ``queue_name`` on the account named by ``connection``."""
        conn = connection_string(connection, self._environ)
        with self._lock:
            service = self._services.get(conn)
            if service is None:
                service = self._services[conn] = QueueServiceClient.from_connection_string(conn)
        return service.get_queue_client(queue_name)


def poison_queue_name(queue_name: str) -> str | None:
    """``<queue>-poison``, or None when the host would have no poison queue."""
    poison = poison_queue_name_of(queue_name)
    suffix = poison[len(queue_name):]  # "-poison"
    return None if queue_name.endswith(suffix) or len(poison) > MAX_QUEUE_NAME else poison


def error_code(error: HttpResponseError) -> str:
    """The storage error code (e.g. 'PopReceiptMismatch') as a plain string."""
    code = getattr(error, "error_code", None)  # set by the storage SDKs' error handling
    return str(getattr(code, "value", code) or "")


def lost_ownership(error: Exception) -> bool:
    """True for the errors QueueProcessor.DeleteMessageAsync/ReleaseMessageAsync
    and UpdateQueueMessageVisibilityCommand treat as "the message is no longer
    ours" and ignore (RequestFailedExceptionExtensions.cs): 400
    PopReceiptMismatch, 404 MessageNotFound or QueueNotFound, 409
    QueueBeingDeleted."""
    if not isinstance(error, HttpResponseError):
        return False
    status, code = error.status_code, error_code(error)
    return ((status == 400 and code == "PopReceiptMismatch")
            or (status == 404 and code in ("MessageNotFound", "QueueNotFound"))
            or (status == 409 and code == "QueueBeingDeleted"))


def ensure_queue(client: QueueClient) -> None:
    """Create the queue if it does not exist."""
    try:
        client.create_queue()
    except ResourceExistsError:
        pass


def send_raw(client: QueueClient, content: str) -> None:
    """Add a message, creating the queue first if it is missing (as
    QueueClientExtensions.AddMessageAndCreateIfNotExistsAsync does)."""
    try:
        client.send_message(content)
    except HttpResponseError as e:
        if e.status_code != 404:
            raise
        ensure_queue(client)
        client.send_message(content)


def decode_message(content: str, encoding: str) -> bytes:
    """Message body bytes; raises ValueError when base64 decoding fails."""
    if encoding == "base64":
        return base64.b64decode(content.encode("ascii"), validate=True)
    return content.encode("utf-8")
