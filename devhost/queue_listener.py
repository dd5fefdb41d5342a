"""Queue triggers, as the WebJobs Storage Queues extension runs them (QueueListener.cs, QueueProcessor.cs and
UpdateQueueMessageVisibilityCommand.cs in azure-sdk-for-net): a message past maxDequeueCount is poisoned without
running; any other runs while its visibility is renewed, then is deleted (success), moved to ``<queue>-poison``
(its last attempt failed) or released for host.json's ``visibilityTimeout``. "The message is no longer ours" (a
stale pop receipt: the function updated its own message) is ignored, as the host ignores it."""

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

# A received message stays invisible 10 minutes, renewed at half of that, sooner after server errors but not
# under MinimumVisibilityRenewalInterval (CreateUpdateMessageVisibilityTimer, LinearSpeedupStrategy).
VISIBILITY_TIMEOUT_SECONDS, MIN_RENEWAL_SECONDS = 600.0, 60.0
MIN_POLLING_SECONDS, RANDOMIZATION = 0.1, 0.2  # QueuePollingIntervals.Minimum; the backoff's randomization


class PollingBackoff:
    """RandomizedExponentialBackoffStrategy: the minimum after a poll that found messages, then
    min + min × 2^(n-1) × random(0.8..1.2), up to the maximum; ``next_delay`` is the wait before the next poll."""

    def __init__(self, maximum: float, minimum: float = MIN_POLLING_SECONDS):
        self.minimum, self.maximum, self.current, self.exponent = minimum, maximum, 0.0, 0

    def next_delay(self, found_messages: bool) -> float:
        if found_messages:
            self.current, self.exponent = self.minimum, 1
        elif self.current != self.maximum:
            spread = random.uniform(1 - RANDOMIZATION, 1 + RANDOMIZATION) * 2 ** (self.exponent - 1)
            interval = self.minimum + (spread * self.minimum if self.exponent > 0 else 0.0)
            self.current, self.exponent = (interval, self.exponent + 1) if interval < self.maximum \
                else (self.maximum, self.exponent)
        return self.current


class VisibilityRenewal:
    """Keeps a message invisible while its function runs, following the pop receipt each renewal returns;
    stops for good, quietly, once the message is no longer ours."""

    def __init__(self, queue: QueueClient, message_id: str, pop_receipt: str, timeout: float, minimum: float):
        self.pop_receipt, self._queue, self._id, self._timeout = pop_receipt, queue, message_id, timeout
        self._normal = timeout / 2
        self._minimum = min(minimum, self._normal)
        self._stop, self._lock = threading.Event(), threading.Lock()
        threading.Thread(target=self._run, name=f"devhost-renew-{message_id}", daemon=True).start()

    def stop(self) -> str:
        """Stop renewing (after a renewal in flight); returns the newest pop receipt we own."""
        self._stop.set()
        with self._lock:
            return self.pop_receipt

    def _run(self) -> None:
        delay, failures = self._normal, 0
        while not self._stop.wait(delay):
            with self._lock:
                if self._stop.is_set():
                    return
                try:
                    renewed = self._queue.update_message(self._id, self.pop_receipt,
                                                         visibility_timeout=int(self._timeout))
                    self.pop_receipt, delay, failures = renewed.pop_receipt or self.pop_receipt, self._normal, 0
                    log.debug("Renewed visibility of message %s", self._id)
                except Exception as e:
                    if storage.lost_ownership(e):
                        log.debug("Stopped renewing message %s: no longer ours", self._id)
                        return
                    if not _server_error(e):
                        log.warning("Renewing message %s failed: %s", self._id, e)
                        return
                    failures += 1  # LinearSpeedupStrategy: try again sooner
                    delay = max(self._minimum, self._normal / (failures + 1))


def _server_error(e: Exception) -> bool:
    return (e.status_code or 0) >= 500 if isinstance(e, HttpResponseError) else isinstance(e, AzureError)


class QueueListener:
    """Polls one queue for one function: a batch at a time, the next batch once no more than
    ``newBatchThreshold`` messages still run (WaitForNewBatchThreshold)."""

    def __init__(self, spec: FunctionSpec, queue: QueueClient, poison: QueueClient | None, options: QueuesOptions,
                 invoke: Callable[..., object], *, visibility_timeout: float = VISIBILITY_TIMEOUT_SECONDS,
                 minimum_renewal_interval: float = MIN_RENEWAL_SECONDS):
        self.spec, self.queue, self.poison, self.options, self._invoke = spec, queue, poison, options, invoke
        self._visibility_timeout, self._minimum_renewal = visibility_timeout, minimum_renewal_interval
        self._backoff = PollingBackoff(options.max_polling_interval_seconds)
        self._stop, self._changed, self._in_flight = threading.Event(), threading.Condition(), 0
        self._workers = ThreadPoolExecutor(options.batch_size + options.new_batch_threshold,
                                           thread_name_prefix=f"devhost-{spec.name}")

    def start(self) -> None:
        """Start polling in a background thread."""
        threading.Thread(target=self._poll_loop, name=f"devhost-poll-{self.spec.name}", daemon=True).start()

    def stop(self, grace_seconds: float) -> None:
        """Stop polling and wait up to ``grace_seconds`` for running messages; those still running stay
        invisible until their lease lapses, then come back."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._in_flight == 0, timeout=grace_seconds)
        self._workers.shutdown(wait=False, cancel_futures=True)

    def _poll_loop(self) -> None:
        queue_ready, found = False, False
        while not self._stop.is_set():
            try:
                if not queue_ready:
                    storage.ensure_queue(self.queue)
                    queue_ready = True
                # One receive per poll, as ReceiveMessagesAsync (iterating the pager would receive until empty).
                messages = list(next(self.queue.receive_messages(
                    messages_per_page=self.options.batch_size, max_messages=self.options.batch_size,
                    visibility_timeout=int(self._visibility_timeout)).by_page(), []))
            except Exception as e:  # the listener checks the queue exists again, and backs off
                queue_ready, messages = False, []
                log.warning("Polling queue '%s' failed: %s", self.spec.queue_name, e)
            if not messages:
                self._stop.wait(self._backoff.next_delay(found))
                found = False
                continue
            found = True
            with self._changed:
                self._in_flight += len(messages)
            for message in messages:
                self._workers.submit(self._process_guarded, message)
            with self._changed:
                self._changed.wait_for(lambda: self._in_flight <= self.options.new_batch_threshold
                                       or self._stop.is_set())

    def _process_guarded(self, message: StorageMessage) -> None:
        try:
            self.process(message)
        except Exception:
            log.exception("Processing message %s from '%s' failed", message.id, self.spec.queue_name)
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def process(self, message: StorageMessage) -> None:
        """Handle one received message."""
        receipt, dequeue_count = message.pop_receipt or "", message.dequeue_count or 0
        try:
            body = storage.decode_message(message.content or "", self.options.message_encoding)
        except ValueError:  # the extension's MessageDecodingFailed: poisoned at once
            log.warning("Message %s in '%s' is not valid %s; moving it to the poison queue", message.id,
                        self.spec.queue_name, self.options.message_encoding)
            return self._poison(message, receipt)
        if dequeue_count > self.options.max_dequeue_count:  # its last attempt's host died: poisoned, not run
            return self._poison(message, receipt)
        # The worker's own class, which carries dequeue_count (azure.functions.QueueMessage does not).
        trigger = TriggerMessage(  # type: ignore[no-untyped-call]  # (the class has no annotations)
            id=message.id, body=body, pop_receipt=receipt, dequeue_count=dequeue_count,
            expiration_time=message.expires_on, insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on)
        renewal = VisibilityRenewal(self.queue, message.id, receipt, self._visibility_timeout, self._minimum_renewal)
        try:
            self._invoke(self.spec, trigger, reason=f"New queue message detected on '{self.spec.queue_name}'.")
            succeeded = True
        except Exception:
            succeeded = False
        receipt = renewal.stop()
        if succeeded:  # CompleteProcessingMessageAsync
            self._let_go(message.id, receipt, "deleted", self.queue.delete_message)
        elif self.poison is not None and dequeue_count >= self.options.max_dequeue_count:
            self._poison(message, receipt)
        elif self.poison is not None:  # (without a poison queue it stays invisible rather than loop fast)
            self._let_go(message.id, receipt, "released", lambda i, r: self.queue.update_message(
                i, r, visibility_timeout=int(self.options.visibility_timeout_seconds)))

    def _poison(self, message: StorageMessage, pop_receipt: str) -> None:
        if self.poison is None:
            return
        log.warning("Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
                    self.options.max_dequeue_count, self.poison.queue_name)
        storage.send_raw(self.poison, message.content or "")
        self._let_go(message.id, pop_receipt, "deleted", self.queue.delete_message)

    @staticmethod
    def _let_go(message_id: str, pop_receipt: str, what: str, call: Callable[[str, str], object]) -> None:
        """Delete or release a message; "no longer ours" is fine: the function may have changed it."""
        try:
            call(message_id, pop_receipt)
        except HttpResponseError as e:
            if not storage.lost_ownership(e):
                raise
            log.debug("Message %s not %s: no longer ours (%s %s)", message_id, what, e.status_code,
                      storage.error_code(e))
