"""Storage transactions per operation: the app's own requests, plus the host's receive and delete.

The app's services run in-process, built with the app's ``TransactionCounter``;
the "host" is a plain queue client that receives messages in batches
(host.json ``batchSize``) and deletes each one after the worker returns, as
the Functions host does on success. Every request is counted three times: by the
app's own meter, at the SDKs' transport (``bench.wire``, which tells the app's
requests from the host's), and by a proxy in front of storage that everything goes
through (``bench.http_count``), which is what the totals use. The counts must agree,
and the report says when they do not.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from azure.storage.queue import QueueClient, QueueMessage, TextBase64DecodePolicy
from helpers import (  # tests/, on sys.path (bench/__init__)
    ACCOUNT_KEY,
    CallbackServer,
    delivery,
    warm_subscription_cache,
)

from faults.proxy import StorageProxy, ports_of
from shared.domain.subscriptions import EVENT
from shared.services.events import notify, subscribe
from shared.services.submission import submit
from shared.services.worker import process_message
from shared.settings import events_queue_name
from shared.storage.metering import TransactionCounter

from .http_count import RequestCounter
from .in_process import echo, services
from .wire import WireCounter

OPERATIONS = 50
# A burst: all submitted before the first is taken, so that most wait longer than an unrecorded attempt may
# (domain.attempts.UNRECORDED_WINDOW), as under a backlog (issue 22's "1,000 submitted at once").
BURST = 1000
HOST_BATCH_SIZE = 16  # host.json extensions.queues.batchSize
HOST_VISIBILITY_SECONDS = 600  # what the host hides a received message for
TIMEOUT_SECONDS = 300
TARGET_PER_OPERATION = 4.5  # the budget per operation, the share of a batched receive included
SUCCEEDED = 30


def _per_op(counts: Counter, n: int) -> dict[str, float]:
    return {key: round(value / n, 3) for key, value in sorted(counts.items())}


def _host(connection_string: str, queue_name: str) -> QueueClient:
    """A queue as the host reads it: each message's text decoded from base64."""
    return QueueClient.from_connection_string(connection_string, queue_name,
                                              message_decode_policy=TextBase64DecodePolicy())


def _drain(host: QueueClient, wire: WireCounter, n: int, handle: Callable[[QueueMessage], None]) -> None:
    """Receive ``n`` messages in batches as the host does, hand each to ``handle`` and delete it after."""
    processed, deadline = 0, time.monotonic() + TIMEOUT_SECONDS
    while processed < n and time.monotonic() < deadline:
        with wire.acting_as("host"):
            pager = host.receive_messages(messages_per_page=HOST_BATCH_SIZE, max_messages=HOST_BATCH_SIZE,
                                          visibility_timeout=HOST_VISIBILITY_SECONDS)
            messages = list(next(pager.by_page(), []))  # one receive request, like one poll of the host
        for message in messages:
            handle(message)
            with wire.acting_as("host"):
                host.delete_message(message.id, message.pop_receipt)
            processed += 1
    if processed < n:
        raise TimeoutError(f"only {processed} of {n} messages were received within {TIMEOUT_SECONDS}s")


def _run(connection_string: str, n: int, wire: WireCounter, app_counter: TransactionCounter,
         requests: RequestCounter, urls: list[str | None], subscriber: str | None) -> tuple:
    svc = services(connection_string, "tx", counter=app_counter, BGOPS_ALLOW_HTTP_CALLBACKS="true")
    if subscriber:
        subscribe(svc, EVENT, {"NotificationUrl": subscriber}, datetime.now(UTC))
        warm_subscription_cache(svc)  # a running app reads the list once every 30 s, not once per operation
    wire.reset()
    app_counter.reset()  # creating the table and queues is once per process, not per operation
    requests.taken()

    ids = [submit(svc, echo(i, urls[i])).id for i in range(n)]
    submit_counts = wire.of("app")
    wire.reset()

    _drain(_host(connection_string, svc.settings.queue_name), wire, n,
           lambda message: process_message(svc, delivery(message)))
    if subscriber:  # the notify function: one event message per operation to its one subscriber
        _drain(_host(connection_string, events_queue_name(svc.settings.queue_name)), wire, n,
               lambda message: notify(svc, message.content))
    worker_counts, host_counts = wire.of("app"), wire.of("host")
    app_counted, at_proxy = app_counter.total, requests.taken()
    succeeded = sum(1 for i in ids if svc.store.get(i).status.value == SUCCEEDED)  # after counting
    return submit_counts, worker_counts, host_counts, app_counted, at_proxy, succeeded


def measure_transactions(connection_string: str, n: int = OPERATIONS, *, callback: bool = False,
                         subscriber: bool = False) -> dict:
    """Submit and process ``n`` sample_Echo operations (``callback``: each calling back to a local server,
    which answers 200 at once; ``subscriber``: one webhook subscriber to every completion, on the same kind of
    server); count every storage request by who sent it, and at a proxy in front of storage."""
    app_counter, requests = TransactionCounter(), RequestCounter()
    proxy = StorageProxy(ports_of(connection_string), seen=requests.reader)
    through = proxy.connection_string("devstoreaccount1", ACCOUNT_KEY)
    wire = WireCounter(through)
    receiver = CallbackServer() if callback or subscriber else None
    urls: list[str | None] = [receiver.new_url() if receiver and callback else None for _ in range(n)]
    events = receiver.new_url() if receiver and subscriber else None
    try:
        with wire.installed():
            submit_counts, worker_counts, host_counts, app_counted, at_proxy, succeeded = _run(
                through, n, wire, app_counter, requests, urls, events)
        if receiver and callback and any(len(receiver.calls(str(url))) != 1 for url in urls):
            raise RuntimeError("not every operation was called back exactly once")
        if receiver and events and len(receiver.calls(events)) < n:
            raise RuntimeError(f"the subscriber got {len(receiver.calls(events))} events for {n} operations")
    finally:
        proxy.stop()
        if receiver:
            receiver.stop()
    app_total = sum(submit_counts.values()) + sum(worker_counts.values())
    receives, deletes = host_counts["queue GET"], host_counts["queue DELETE"]
    wire_total, proxy_total = app_total + receives + deletes, sum(at_proxy.values())
    return {
        "operations": n,
        "succeeded": succeeded,
        "submit_per_op": _per_op(submit_counts, n),
        "worker_per_op": _per_op(worker_counts, n),
        "app_per_op": round(app_total / n, 3),
        "app_counter_per_op": round(app_counted / n, 3),  # what the app's own TransactionCounter saw
        "app_counter_agrees": app_counted == app_total,
        "host_receives": receives,
        "host_receive_per_op": round(receives / n, 3),
        "host_delete_per_op": round(deletes / n, 3),
        "total_per_op": round(proxy_total / n, 3),  # counted at the proxy: everything storage was sent
        "proxy_agrees": proxy_total == wire_total,
        "at_proxy_per_op": _per_op(at_proxy, n),
        "happy_path_per_op": round((app_total + deletes) / n, 3),
        "unread_per_op": max(0.0, round(1 - worker_counts["table GET"] / n, 3)),  # run from the carried row
        "target_per_op": TARGET_PER_OPERATION,
    }
