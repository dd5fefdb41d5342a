"""Queue trigger listener, following the WebJobs Storage Queues extension
(QueueListener.cs, QueueProcessor.cs, UpdateQueueMessageVisibilityCommand.cs
in Azure/azure-sdk-for-net sdk/storage/Microsoft.Azure.WebJobs.Extensions.
Storage.Queues and ...Storage.Common).

Per message: poison it without running when dequeue_count > maxDequeueCount;
otherwise run the function while renewing the message's visibility; then
delete it (success), move it to ``<queue>-poison`` (failure on the last
attempt) or release it with host.json ``visibilityTimeout`` (failure).
Errors meaning "the message is no longer ours" (a stale pop receipt, because
the function itself updated its message) are ignored, as the host does.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from azure.core.exceptions import AzureError, HttpResponseError
from azure.functions.queue import QueueMessage as TriggerMessage
from azure.storage.queue import QueueClient
from azure.storage.queue import QueueMessage as StorageMessage

from . import storage
from .app_loader import FunctionSpec
from .config import QueuesOptions

log = logging.getLogger("devhost.queue")

# QueueListener: "if the function runs longer than this, the invisibility
# will be updated on a timer periodically" - 10 minutes, renewed at half of it
# (CreateUpdateMessageVisibilityTimer), sped up on server errors down to
# MinimumVisibilityRenewalInterval = 1 minute (LinearSpeedupStrategy).
VISIBILITY_TIMEOUT_SECONDS = 600.0
MIN_RENEWAL_SECONDS = 60.0
# QueuePollingIntervals.Minimum; RandomizedExponentialBackoffStrategy's
# RandomizationFactor.
MIN_POLLING_SECONDS = 0.1
RANDOMIZATION = 0.2


class PollingBackoff:
    """RandomizedExponentialBackoffStrategy: 100 ms after a poll that found
    messages, then min + min * 2^(n-1) * random(0.8..1.2), up to the max."""

    def __init__(self, maximum: float, minimum: float = MIN_POLLING_SECONDS):
        self.minimum, self.maximum = minimum, maximum
        self.current, self.exponent = 0.0, 0

    def next_delay(self, found_messages: bool) -> float:
        """The wait before the next poll."""
        if found_messages:
            self.current, self.exponent = self.minimum, 1
        elif self.current != self.maximum:
            interval = self.minimum
            if self.exponent > 0:
                interval += (random.uniform(1 - RANDOMIZATION, 1 + RANDOMIZATION)
                             * 2 ** (self.exponent - 1) * self.minimum)
            if interval < self.maximum:
                self.current, self.exponent = interval, self.exponent + 1
            else:
                self.current = self.maximum
        return self.current


class VisibilityRenewal:
    """Keeps a message invisible while its function runs, tracking the pop
    receipt each renewal returns. Stops quietly, for good, once the message
    is no longer ours (UpdateQueueMessageVisibilityCommand)."""

    def __init__(self, queue: QueueClient, message_id: str, pop_receipt: str,
                 visibility_timeout: float, minimum_interval: float):
        self.pop_receipt = pop_receipt
        self._queue, self._id = queue, message_id
        self._timeout, self._normal = visibility_timeout, visibility_timeout / 2
        self._minimum = min(minimum_interval, self._normal)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"devhost-renew-{message_id}",
                                        daemon=True)

    def start(self) -> VisibilityRenewal:
        self._thread.start()
        return self

    def stop(self) -> str:
        """Stop renewing; returns the newest pop receipt we own."""
        self._stop.set()
        with self._lock:  # wait for a renewal in flight
            return self.pop_receipt

    def _run(self) -> None:
        delay, failures = self._normal, 0
        while not self._stop.wait(delay):
            with self._lock:
                if self._stop.is_set():
                    return
                try:
                    receipt = self._queue.update_message(
                        self._id, self.pop_receipt, visibility_timeout=int(self._timeout))
                    self.pop_receipt = receipt.pop_receipt or self.pop_receipt
                    delay, failures = self._normal, 0
                    log.debug("Renewed visibility of message %s", self._id)
                except Exception as e:
                    if storage.lost_ownership(e):
                        log.debug("Stopped renewing message %s: no longer ours (%s)",
                                  self._id, getattr(e, "status_code", e))
                        return
                    if isinstance(e, HttpResponseError) and (e.status_code or 0) >= 500 \
                            or not isinstance(e, HttpResponseError) and isinstance(e, AzureError):
                        failures += 1  # LinearSpeedupStrategy: retry sooner
                        delay = max(self._minimum, self._normal / (failures + 1))
                        continue
                    log.warning("Renewing message %s failed: %s", self._id, e)
                    return


class QueueListener:
    """Polls one queue for one function."""

    def __init__(self, spec: FunctionSpec, queue: QueueClient, poison: QueueClient | None,
                 options: QueuesOptions, invoke: Callable[..., object],
                 *, visibility_timeout: float = VISIBILITY_TIMEOUT_SECONDS,
                 minimum_renewal_interval: float = MIN_RENEWAL_SECONDS):
        self.spec, self.queue, self.poison, self.options = spec, queue, poison, options
        self._invoke = invoke
        self._visibility_timeout = visibility_timeout
        self._minimum_renewal = minimum_renewal_interval
        self._backoff = PollingBackoff(options.max_polling_interval_seconds)
        self._stop = threading.Event()
        self._in_flight = 0
        self._changed = threading.Condition()
        self._workers = ThreadPoolExecutor(options.batch_size + options.new_batch_threshold,
                                           thread_name_prefix=f"devhost-{spec.name}")
        self._thread = threading.Thread(target=self._poll_loop, name=f"devhost-poll-{spec.name}",
                                        daemon=True)

    def start(self) -> None:
        """Start polling in a background thread."""
        self._thread.start()

    def stop(self, grace_seconds: float) -> None:
        """Stop polling and wait up to ``grace_seconds`` for running messages.
        Messages still running stay invisible until their timeout expires."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._in_flight == 0, timeout=grace_seconds)
        self._workers.shutdown(wait=False, cancel_futures=True)

    def _poll_loop(self) -> None:
        queue_ready, found_since_delay = False, False
        while not self._stop.is_set():
            try:
                if not queue_ready:
                    storage.ensure_queue(self.queue)
                    queue_ready = True
                batch = self.queue.receive_messages(
                    messages_per_page=self.options.batch_size,
                    max_messages=self.options.batch_size,
                    visibility_timeout=int(self._visibility_timeout))
                # One receive call per poll, like ReceiveMessagesAsync (iterating
                # the pager would keep receiving until the queue looks empty).
                messages = list(next(batch.by_page(), []))
            except Exception as e:
                # QueueListener resets its existence check on any error and
                # backs off (it rethrows the rest; we log and keep polling).
                queue_ready = False
                log.warning("Polling queue '%s' failed: %s", self.spec.queue_name, e)
                self._stop.wait(self._backoff.next_delay(found_since_delay))
                found_since_delay = False
                continue
            if not messages:
                self._stop.wait(self._backoff.next_delay(found_since_delay))
                found_since_delay = False
                continue
            found_since_delay = True
            with self._changed:
                self._in_flight += len(messages)
            for message in messages:
                self._workers.submit(self._process_guarded, message)
            # WaitForNewBatchThreshold: fetch again right away once no more
            # than newBatchThreshold messages are still running.
            with self._changed:
                self._changed.wait_for(
                    lambda: self._in_flight <= self.options.new_batch_threshold
                    or self._stop.is_set())

    def _process_guarded(self, message: StorageMessage) -> None:
        try:
            self.process(message)
        except Exception:
            log.exception("Processing message %s from '%s' failed",
                          message.id, self.spec.queue_name)
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def process(self, message: StorageMessage) -> None:
        """Handle one received azure.storage.queue.QueueMessage."""
        options = self.options
        received_receipt, dequeue_count = message.pop_receipt or "", message.dequeue_count or 0  # always set here
        try:
            body = storage.decode_message(message.content or "", options.message_encoding)
        except ValueError:
            # The extension's MessageDecodingFailed handler poisons it at once.
            log.warning("Message %s in '%s' is not valid %s; moving it to the poison queue",
                        message.id, self.spec.queue_name, options.message_encoding)
            self._poison(message, received_receipt)
            return
        if dequeue_count > options.max_dequeue_count:
            # BeginProcessingMessageAsync: over the limit (e.g. the host died
            # during the last attempt) - poison without running.
            self._poison(message, received_receipt)
            return
        # azure.functions.queue.QueueMessage is the worker's class carrying
        # dequeue_count (azure.functions.QueueMessage does not).
        trigger = TriggerMessage(  # type: ignore[no-untyped-call]  # (the class has no annotations)
            id=message.id, body=body, pop_receipt=received_receipt,
            dequeue_count=dequeue_count, expiration_time=message.expires_on,
            insertion_time=message.inserted_on, time_next_visible=message.next_visible_on)
        renewal = VisibilityRenewal(self.queue, message.id, received_receipt,
                                    self._visibility_timeout, self._minimum_renewal).start()
        succeeded = False
        try:
            self._invoke(self.spec, trigger,
                         reason=f"New queue message detected on '{self.spec.queue_name}'.")
            succeeded = True
        except Exception:
            pass
        finally:
            pop_receipt = renewal.stop()
        # CompleteProcessingMessageAsync
        if succeeded:
            self._delete(message.id, pop_receipt)
        elif self.poison is None:
            pass  # no poison queue: leave it invisible rather than loop fast
        elif dequeue_count >= options.max_dequeue_count:
            self._poison(message, pop_receipt)
        else:
            self._release(message.id, pop_receipt)

    def _poison(self, message: StorageMessage, pop_receipt: str) -> None:
        if self.poison is None:
            return
        log.warning("Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
                    self.options.max_dequeue_count, self.poison.queue_name)
        storage.send_raw(self.poison, message.content or "")
        self._delete(message.id, pop_receipt)

    def _delete(self, message_id: str, pop_receipt: str) -> None:
        try:
            self.queue.delete_message(message_id, pop_receipt)
        except HttpResponseError as e:
            if not storage.lost_ownership(e):
                raise
            # "This could indicate that the function has modified the message
            # and may be expected." (QueueProcessor.DeleteMessageAsync)
            log.debug("Message %s not deleted: no longer ours (%s %s)",
                      message_id, e.status_code, storage.error_code(e))

    def _release(self, message_id: str, pop_receipt: str) -> None:
        try:
            self.queue.update_message(
                message_id, pop_receipt,
                visibility_timeout=int(self.options.visibility_timeout_seconds))
        except HttpResponseError as e:
            if not storage.lost_ownership(e):
                raise
            log.debug("Message %s not released: no longer ours (%s %s)",
                      message_id, e.status_code, storage.error_code(e))
