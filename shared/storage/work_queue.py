"""``WorkQueue`` on Azure Queue Storage (or Azurite).

Messages hold only the operation id, base64-encoded as the Functions queue
trigger expects (the client is built with ``TextBase64EncodePolicy``).
"""

from __future__ import annotations

import math

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from ..domain.backoff import MAX_VISIBILITY_SECONDS
from ..domain.errors import StorageUnavailable

NEVER_EXPIRES = -1  # a message must outlive long postponements and retries


class StorageWorkQueue:
    """The work queue and its poison queue."""

    def __init__(self, service: QueueServiceClient, queue_name: str) -> None:
        # The service client does not pass encode policies on to its queue clients.
        encoding = {"message_encode_policy": TextBase64EncodePolicy(),
                    "message_decode_policy": TextBase64DecodePolicy()}
        self.queue: QueueClient = service.get_queue_client(queue_name, **encoding)
        self.poison: QueueClient = service.get_queue_client(f"{queue_name}-poison", **encoding)

    def ensure_queues(self) -> None:
        """Create both queues unless they exist (once per process)."""
        for client in (self.queue, self.poison):
            try:
                client.create_queue()
            except ResourceExistsError:
                pass
            except AzureError as e:
                raise StorageUnavailable(f"Queue storage failed to create a queue: {type(e).__name__}") from e

    def enqueue(self, operation_id: str, *, delay_seconds: float = 0) -> str:
        """Add a message that becomes visible after ``delay_seconds`` (at most 7 days)."""
        delay = min(max(math.ceil(delay_seconds), 0), MAX_VISIBILITY_SECONDS)
        try:
            message = self.queue.send_message(operation_id, visibility_timeout=delay or None,
                                              time_to_live=NEVER_EXPIRES)
        except AzureError as e:
            raise StorageUnavailable(f"Queue storage failed to enqueue: {type(e).__name__}") from e
        return message.id

    def set_visibility(self, message_id: str, pop_receipt: str, delay_seconds: float) -> None:
        """Hide a received message for ``delay_seconds`` more; its pop receipt changes."""
        delay = min(max(math.ceil(delay_seconds), 0), MAX_VISIBILITY_SECONDS)
        try:
            self.queue.update_message(message_id, pop_receipt, visibility_timeout=delay)
        except AzureError as e:
            raise StorageUnavailable(f"Queue storage failed to delay a message: {type(e).__name__}") from e

    def ping(self) -> None:
        """Raise StorageUnavailable unless the queue answers."""
        try:
            self.queue.get_queue_properties()
        except AzureError as e:
            raise StorageUnavailable(f"Queue storage did not answer: {type(e).__name__}") from e
