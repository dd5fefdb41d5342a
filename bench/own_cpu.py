"""The app's own CPU per operation beside the raw-SDK floor's, in one process, without HTTP or a host: what is
left of section 10's CPU gap once devhost's part (serving HTTP, receiving and deleting messages, invoking the
functions, logging each invocation) is taken out, which in Azure the Functions host does, not Python.

Both do the same 496 operations in rounds of 16: 16 submitted, then the batch received and each one run and its
message deleted, so that every message is taken young, as when a worker keeps up. The app through its services
(``submission.submit``, ``worker.process_message``); the floor with the plain SDK calls (an insert and a put; a
merge and a delete). Five rounds each, in turns (medians); the process's CPU time (``time.process_time``).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable

from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient, QueueMessage, TextBase64DecodePolicy, TextBase64EncodePolicy
from helpers import delivery  # tests/, on sys.path (bench/__init__)

from shared.services.submission import submit
from shared.services.worker import process_message

from .baseline import insert_and_put
from .floor_app import finish
from .in_process import echo, services

BATCH = 16
OPERATIONS = 31 * BATCH
ROUNDS = 5


def _in_batches(n: int, submit_one: Callable[[int], object], queue: QueueClient,
                run_one: Callable[[QueueMessage], None]) -> None:
    for start in range(0, n, BATCH):
        for index in range(start, start + BATCH):
            submit_one(index)
        done = 0
        while done < BATCH:
            for message in next(queue.receive_messages(messages_per_page=BATCH, max_messages=BATCH).by_page(), []):
                run_one(message)
                queue.delete_message(message.id, message.pop_receipt)
                done += 1


def _app(connection_string: str) -> Callable[[int], None]:
    svc = services(connection_string, "own")
    queue = QueueClient.from_connection_string(connection_string, svc.settings.queue_name,
                                               message_decode_policy=TextBase64DecodePolicy())
    return lambda n: _in_batches(n, lambda index: submit(svc, echo(index)), queue,
                                 lambda message: process_message(svc, delivery(message)))


def _floor(connection_string: str) -> Callable[[int], None]:
    name = f"ownfloor{uuid.uuid4().hex[:8]}"
    table = TableServiceClient.from_connection_string(connection_string).create_table(name)
    queue = QueueClient.from_connection_string(connection_string, name, message_encode_policy=TextBase64EncodePolicy(),
                                               message_decode_policy=TextBase64DecodePolicy())
    queue.create_queue()

    return lambda n: _in_batches(n, lambda _: insert_and_put(table, queue), queue,
                                 lambda message: finish(table, message.content))


def _cpu_ms_per_op(run: Callable[[int], None], n: int) -> float:
    started = time.process_time()
    run(n)
    return (time.process_time() - started) / n * 1000


def measure_own_cpu(connection_string: str, n: int = OPERATIONS, rounds: int = ROUNDS) -> dict:
    """The app's and the floor's CPU per operation in this process, ``rounds`` rounds each in turns."""
    app, floor = _app(connection_string), _floor(connection_string)
    app(min(n, 4 * BATCH))  # warm: the first calls build clients, caches and pools
    floor(min(n, 4 * BATCH))
    # rounded first, so that every figure reported is computed from the rounds as reported
    runs = [(round(_cpu_ms_per_op(app, n), 2), round(_cpu_ms_per_op(floor, n), 2)) for _ in range(rounds)]
    return {"operations": n, "rounds": [{"app_ms": a, "floor_ms": f} for a, f in runs],
            "app_cpu_ms_per_op": round(statistics.median(a for a, _ in runs), 2),
            "floor_cpu_ms_per_op": round(statistics.median(f for _, f in runs), 2),
            "ratio": round(statistics.median(a / f for a, f in runs), 2)}
