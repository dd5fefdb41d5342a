"""The raw floor: one table insert plus one queue put, straight through the SDK, no app in between."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from .stats import summarize_ms

ITERATIONS = 500
WARMUP = 10


def _row(now: datetime) -> dict:
    """An entity about the size and shape of a fresh operation row."""
    row_id = str(uuid.uuid4())
    return {
        "PartitionKey": row_id[-1], "RowKey": row_id, "name": "sample_Echo", "displayname": "Echo (sample)",
        "backgroundoperationstatecode": 0, "backgroundoperationstatuscode": 0,
        "inputparameters": '[{"Key": "Index", "Value": 1}, {"Key": "Text", "Value": "bench"}]',
        "createdon": now, "modifiedon": now, "ttlinseconds": 7_776_000, "retrycount": 0, "runas": "",
        "callbackstate": "", "baseurl": "http://127.0.0.1:7071", "progresspercent": 0,
    }


def measure_baseline(connection_string: str, iterations: int = ITERATIONS) -> dict:
    """Time ``iterations`` insert+put pairs, sequentially, on a fresh table and queue."""
    name = f"base{uuid.uuid4().hex[:8]}"
    table = TableServiceClient.from_connection_string(connection_string).create_table(name)
    queue = QueueClient.from_connection_string(connection_string, name,
                                               message_encode_policy=TextBase64EncodePolicy())
    queue.create_queue()
    timings = []
    for i in range(WARMUP + iterations):
        started = time.perf_counter()
        row = _row(datetime.now(UTC))
        table.create_entity(row)
        queue.send_message(row["RowKey"], time_to_live=-1)
        if i >= WARMUP:
            timings.append(time.perf_counter() - started)
    return summarize_ms(timings)
