"""``WorkQueue`` on Azure Queue Storage (or Azurite).

Work messages are ``work_messages``' (the id, or a new operation's row); event messages (on ``<queue>-events``)
one subscriber's event. Both are base64-encoded as the Functions queue trigger expects.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ServiceRequestError
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from ..domain.backoff import visibility_seconds
from ..domain.errors import PerhapsWritten, StorageUnavailable
from ..domain.operation import Operation
from ..settings import events_queue_name, poison_queue_name
from .ports import Sent
from .work_messages import encode

NEVER_EXPIRES = -1  # a message must outlive long postponements and retries


def _sent(error: AzureError) -> bool:
    """Whether the request that failed may have been carried out: it was sent, and storage did not refuse it
    with an answer. Not sent: no connection (ServiceRequestError). Refused: a 4xx answer. Anything else (a
    connection reset while waiting for the answer, a timeout, a 5xx such as OperationTimedOut) may not be."""
    if isinstance(error, ServiceRequestError):
        return False
    return not (isinstance(error, HttpResponseError) and error.status_code is not None and error.status_code < 500)


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Any Azure error as StorageUnavailable, or PerhapsWritten when the request may have been carried out
    (naming its type, never a URL or a key)."""
    try:
        yield
    except AzureError as e:
        kind = PerhapsWritten if _sent(e) else StorageUnavailable
        raise kind(f"Queue storage failed to {what}: {type(e).__name__}") from e


class StorageWorkQueue:
    """The work queue and its poison queue."""

    def __init__(self, service: QueueServiceClient, queue_name: str) -> None:
        # The service client does not pass encode policies on to its queue clients.
        encoding = {"message_encode_policy": TextBase64EncodePolicy(),
                    "message_decode_policy": TextBase64DecodePolicy()}
        self.queue: QueueClient = service.get_queue_client(queue_name, **encoding)
        self.poison: QueueClient = service.get_queue_client(poison_queue_name(queue_name), **encoding)
        self.events: QueueClient = service.get_queue_client(events_queue_name(queue_name), **encoding)

    def ensure_queues(self) -> None:
        """Create the queues unless they exist (once per process)."""
        for client in (self.queue, self.poison, self.events):
            with _translated("create a queue"):
                try:
                    client.create_queue()
                except ResourceExistsError:
                    pass

    def enqueue(self, operation_id: str, *, delay_seconds: float = 0, row: Operation | None = None,
                attempts: int = 0, wake: bool = False, once: bool = False) -> str:
        """Add a message (carrying ``row`` when it may, or the number of ``attempts`` already made) that
        becomes visible after ``delay_seconds`` (at most 7 days). ``once``: a single request, not retried
        by the SDK, so that PerhapsWritten tells of that one request."""
        retries = {"retry_total": 0} if once else {}
        with _translated("enqueue"):
            message = self.queue.send_message(encode(operation_id, row, attempts, wake), time_to_live=NEVER_EXPIRES,
                                              visibility_timeout=visibility_seconds(delay_seconds) or None, **retries)
        return message.id

    def enqueue_event(self, body: str, *, delay_seconds: float = 0) -> Sent:
        """Add a message for the ``notify`` function (one attempt at an event or a callback), visible after
        ``delay_seconds``."""
        with _translated("enqueue an event"):
            message = self.events.send_message(body, time_to_live=NEVER_EXPIRES,
                                               visibility_timeout=visibility_seconds(delay_seconds) or None)
        return Sent(message.id, message.pop_receipt or "")

    def reschedule_event(self, sent: Sent, delay_seconds: float) -> Sent:
        """Make an events-queue message nobody has received yet visible after ``delay_seconds`` instead."""
        with _translated("reschedule an event"):
            message = self.events.update_message(sent.id, sent.pop_receipt,
                                                 visibility_timeout=visibility_seconds(delay_seconds))
        return Sent(sent.id, message.pop_receipt or "")

    def delete_event(self, sent: Sent) -> None:
        """Delete an events-queue message nobody has received yet."""
        with _translated("delete an event"):
            self.events.delete_message(sent.id, sent.pop_receipt)

    def set_visibility(self, message_id: str, pop_receipt: str, delay_seconds: float) -> None:
        """Hide a received message for ``delay_seconds`` more; its pop receipt changes."""
        with _translated("delay a message"):
            self.queue.update_message(message_id, pop_receipt, visibility_timeout=visibility_seconds(delay_seconds))

    def oldest_waiting_seconds(self) -> float | None:
        """The age of the first visible work message (Peek Messages: one transaction), or None."""
        with _translated("peek at the queue"):
            [*first] = self.queue.peek_messages(max_messages=1)
        if not first or first[0].inserted_on is None:
            return None
        return max(0.0, (datetime.now(UTC) - first[0].inserted_on).total_seconds())

    def ping(self) -> None:
        """Raise StorageUnavailable unless the queue answers."""
        with _translated("reach the queue"):
            self.queue.get_queue_properties()
