"""Storage transactions per operation: the app's own requests, plus the host's receive and delete.

The app's services run in-process with a ``TransactionCounter``; the "host"
is a queue client with a counter of its own that receives messages in
batches (host.json ``batchSize``) and deletes each one after the worker
returns, as the Functions host does on success.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections import Counter

from azure.storage.queue import QueueClient

from shared.services.container import build_services
from shared.services.submission import Submission, submit
from shared.services.worker import QueueDelivery, process_message
from shared.settings import load_settings
from shared.storage.metering import TransactionCounter

OPERATIONS = 50
HOST_BATCH_SIZE = 16  # host.json extensions.queues.batchSize
HOST_VISIBILITY_SECONDS = 600  # what the host hides a received message for
TIMEOUT_SECONDS = 60
TARGET_PER_OPERATION = 6  # the budget, not counting the share of a batched receive


def _per_op(counts: Counter, n: int) -> dict[str, float]:
    return {key: round(value / n, 3) for key, value in sorted(counts.items())}


def measure_transactions(connection_string: str, n: int = OPERATIONS) -> dict:
    """Submit and process ``n`` sample_Echo operations; count every storage request by who sent it."""
    name = f"tx{uuid.uuid4().hex[:8]}"
    settings = load_settings({"AzureWebJobsStorage": connection_string, "BGOPS_QUEUE_NAME": name,
                              "BGOPS_TABLE_NAME": name, "BGOPS_ENABLE_SAMPLES": "true"})
    app_counter, host_counter = TransactionCounter(), TransactionCounter()
    svc = build_services(settings, counter=app_counter)
    host = QueueClient.from_connection_string(connection_string, name,
                                              per_call_policies=[host_counter.policy("queue")])
    app_counter.reset()  # creating the table and queues is once per process, not per operation

    ids = [submit(svc, Submission(name="sample_Echo", inputs={"Index": i, "Text": "bench"},
                                  base_url="http://bench.invalid")).id for i in range(n)]
    submit_counts = Counter(app_counter.counts)
    app_counter.reset()

    processed, deadline = 0, time.monotonic() + TIMEOUT_SECONDS
    while processed < n and time.monotonic() < deadline:
        pager = host.receive_messages(messages_per_page=HOST_BATCH_SIZE, max_messages=HOST_BATCH_SIZE,
                                      visibility_timeout=HOST_VISIBILITY_SECONDS)
        for message in next(pager.by_page(), []):  # one receive request, like the host's poll
            body = base64.b64decode(message.content).decode("utf-8")
            process_message(svc, QueueDelivery(id=message.id, pop_receipt=message.pop_receipt,
                                               dequeue_count=message.dequeue_count, body=body))
            host.delete_message(message.id, message.pop_receipt)
            processed += 1
    worker_counts = Counter(app_counter.counts)
    if processed < n:
        raise TimeoutError(f"only {processed} of {n} messages were received within {TIMEOUT_SECONDS}s")

    succeeded = sum(1 for i in ids if svc.store.get(i).status.value == 30)  # after counting: not included
    receives = host_counter.counts["queue GET"]
    deletes = host_counter.counts["queue DELETE"]
    app_total = (sum(submit_counts.values()) + sum(worker_counts.values())) / n
    return {
        "operations": n,
        "succeeded": succeeded,
        "submit_per_op": _per_op(submit_counts, n),
        "worker_per_op": _per_op(worker_counts, n),
        "app_per_op": round(app_total, 3),
        "host_receives": receives,
        "host_receive_per_op": round(receives / n, 3),
        "host_delete_per_op": round(deletes / n, 3),
        "total_per_op": round(app_total + (receives + deletes) / n, 3),
        "happy_path_per_op": round(app_total + deletes / n, 3),
        "target_per_op": TARGET_PER_OPERATION,
    }
